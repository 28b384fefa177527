"""Coded test videos with properties phones and screen recorders produce: a display matrix
(rotation, mirror) and variable frame rate. Frames carry their number as in ``make_videos``."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from helpers.make_videos import code_frame


def write_rotated(path: Path, num_frames: int, degrees: int, *, hflip: bool = False, width: int = 128, height: int = 64) -> Path:
    """Frames stored ``width``×``height`` with a display matrix saying: turn ``degrees``
    counter-clockwise, then mirror left-right if ``hflip`` (PyAV's convention, the one
    ``VideoFrame.rotation`` reads back). Not 64×48: decord 0.6 mis-sizes a rotated 48-pixel-wide frame."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 6
        stream.codec_context.max_b_frames = 2
        stream.codec_context.options = {"crf": "18", "sc_threshold": "0"}
        stream.set_display_rotation(degrees, hflip=hflip)
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(code_frame(index, height, width), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def displayed(index: int, degrees: int, hflip: bool = False, width: int = 128, height: int = 64) -> np.ndarray:
    """What a player shows for frame ``index`` of ``write_rotated``'s file."""
    picture = np.rot90(code_frame(index, height, width), (degrees // 90) % 4)
    return picture[:, ::-1] if hflip else picture


def write_variable_rate(path: Path, pts_ms: list[int], *, nominal_fps: int = 10) -> Path:
    """One frame per entry of ``pts_ms`` (milliseconds), time base 1/1000; the stream's nominal
    rate is ``nominal_fps`` whatever the real gaps are, as with a phone's variable-rate recording."""
    time_base = Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=nominal_fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = 6
        stream.codec_context.max_b_frames = 0
        stream.codec_context.options = {"crf": "18", "sc_threshold": "0"}
        for index, pts in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(code_frame(index, 48, 64), format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
