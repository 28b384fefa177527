"""Small test videos whose frame number is written into the pixels, generated with PyAV.

The number is a binary code of 8×8 blocks, bit k in block k (row-major), black (16) for 0 and
white (235) for 1: flat blocks on the codec's 8×8 grid survive lossy coding at these settings
(``test_the_written_codes_survive_compression`` checks every file by a plain full decode), and
reading only each block's centre ignores edge ringing. A 64×48 frame holds 48 bits; 33×17 holds 8.

Odd sizes: libx264 refuses yuv420p at odd width/height (4:2:0 chroma needs even sizes; avcodec_open2
fails), so the odd-size H.264 file is 4:4:4 (yuv444p, High 4:4:4 profile), and VP9 covers odd
4:2:0 (it rounds the chroma planes up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

BLOCK = 8
DARK, BRIGHT = 16, 235


def code_frame(index: int, height: int, width: int) -> np.ndarray:
    """uint8 RGB frame [height, width, 3] carrying ``index`` as a block code."""
    columns, rows = width // BLOCK, height // BLOCK
    if index >= 2 ** (columns * rows):
        raise ValueError(f"{index} does not fit in a {width}×{height} frame")
    frame = np.full((height, width, 3), DARK, dtype=np.uint8)
    for bit in range(columns * rows):
        if (index >> bit) & 1:
            row, column = divmod(bit, columns)
            frame[row * BLOCK : (row + 1) * BLOCK, column * BLOCK : (column + 1) * BLOCK] = BRIGHT
    return frame


def read_code(frame: np.ndarray) -> int:
    """The number ``code_frame`` wrote, read from the centres of the blocks."""
    height, width = frame.shape[:2]
    columns, rows = width // BLOCK, height // BLOCK
    value = 0
    for bit in range(columns * rows):
        row, column = divmod(bit, columns)
        centre = frame[row * BLOCK + 2 : (row + 1) * BLOCK - 2, column * BLOCK + 2 : (column + 1) * BLOCK - 2]
        if centre.mean() > (DARK + BRIGHT) / 2:
            value |= 1 << bit
    return value


def read_codes(frames: np.ndarray) -> list[int]:
    return [read_code(frame) for frame in frames]


@dataclass(frozen=True)
class VideoSpec:
    """How to write one coded test video."""

    name: str
    num_frames: int
    width: int = 64
    height: int = 48
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    gop: int = 12
    b_frames: int = 2
    fps: int = 25
    codec_options: dict[str, str] = field(default_factory=dict)
    container_options: dict[str, str] = field(default_factory=dict)


def write_coded_video(path: Path, spec: VideoSpec) -> Path:
    """Encode frames 0..num_frames−1 of ``spec`` to ``path`` (container from the extension)."""
    with av.open(str(path), "w", options=spec.container_options) as container:
        stream = container.add_stream(spec.codec, rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, spec.pix_fmt
        stream.codec_context.gop_size = spec.gop
        stream.codec_context.max_b_frames = spec.b_frames
        options = {"crf": "18", "sc_threshold": "0"} if spec.codec == "libx264" else {}  # no extra scene-cut keyframes
        stream.codec_context.options = {**options, **spec.codec_options}
        for index in range(spec.num_frames):
            frame = av.VideoFrame.from_ndarray(code_frame(index, spec.height, spec.width), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_audio_only(path: Path, seconds: float = 0.5) -> Path:
    """An AAC file with no video stream."""
    rate, samples = 16000, 1024
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        for k in range(int(seconds * rate / samples)):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, k * samples
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_truncated(source: Path, path: Path, keep_fraction: float) -> Path:
    """The first ``keep_fraction`` of ``source``'s bytes, as a download cut short would leave them."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def write_remuxed_without_first_packets(source: Path, path: Path, skip: int) -> Path:
    """``source``'s video packets from the ``skip``-th (decode order) on, so the stream starts
    mid-GOP, with no keyframe: the frames before the first keyframe cannot be decoded."""
    with av.open(str(source)) as reader, av.open(str(path), "w", format="matroska") as writer:
        stream = reader.streams.video[0]
        copy = writer.add_stream_from_template(stream)
        for k, packet in enumerate(reader.demux(stream)):
            if packet.size and k >= skip:
                packet.stream = copy
                writer.mux(packet)
    return path


SPECS = {
    "h264_bframes.mp4": VideoSpec("h264_bframes.mp4", 120),
    "h264_long_gop.mkv": VideoSpec("h264_long_gop.mkv", 150, gop=50, b_frames=3),
    "h264_gop1.mp4": VideoSpec("h264_gop1.mp4", 30, gop=1, b_frames=0),
    "h264_gop3_bframes.mp4": VideoSpec("h264_gop3_bframes.mp4", 30, gop=3, b_frames=2),
    "h264_one_frame.mp4": VideoSpec("h264_one_frame.mp4", 1),
    "h264_odd_444.mp4": VideoSpec("h264_odd_444.mp4", 40, width=33, height=17, pix_fmt="yuv444p"),
    "h264_faststart.mp4": VideoSpec("h264_faststart.mp4", 100, container_options={"movflags": "faststart"}),
    "mpeg4_bframes.mp4": VideoSpec("mpeg4_bframes.mp4", 60, codec="mpeg4", codec_options={"qscale": "2"}),
    "vp9_odd.webm": VideoSpec(
        "vp9_odd.webm",
        40,
        width=33,
        height=17,
        codec="libvpx-vp9",
        b_frames=0,
        codec_options={"crf": "10", "b": "0", "deadline": "realtime", "cpu-used": "8"},
    ),
}


def build_video_library(folder: Path) -> dict[str, Path]:
    """Every test file in ``folder`` (idempotent: existing files are reused across test modules)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, spec in SPECS.items():
        path = folder / name
        if not path.exists():
            write_coded_video(path.with_suffix(".part" + path.suffix), spec).rename(path)
        paths[name] = path
    extras = {
        "truncated.mkv": lambda p: write_truncated(paths["h264_long_gop.mkv"], p, 0.55),
        "truncated_faststart.mp4": lambda p: write_truncated(paths["h264_faststart.mp4"], p, 0.7),
        "truncated_moov_at_end.mp4": lambda p: write_truncated(paths["h264_bframes.mp4"], p, 0.7),
        "starts_mid_gop.mkv": lambda p: write_remuxed_without_first_packets(paths["h264_bframes.mp4"], p, 5),
        "audio_only.m4a": write_audio_only,
        "zero_bytes.mp4": lambda p: p.write_bytes(b""),
    }
    for name, make in extras.items():
        path = folder / name
        if not path.exists():
            part = path.with_suffix(".part" + path.suffix)
            make(part)
            part.rename(path)
        paths[name] = path
    return paths
