"""Which frames a file can really deliver, in presentation order, and where decoding can start.

Counting rule (the cost is stated because it runs on every open):

1. Demux every packet of the video stream without decoding (reads the whole file once, about as
   fast as the disk; no pixel work). Each packet with a pts that is neither flagged corrupt (the
   partial last packet of a truncated file) nor flagged discard (MP4 edit-list pre-roll) is one
   candidate frame; sorting candidates by pts gives presentation order, so frame i is the i-th
   smallest pts whatever the decode order (B-frames).
2. Verify by decoding only the last keyframe interval (one GOP of decoding): candidates there that
   the decoder does not produce are dropped. Truncation damages only the end in decode order, and
   every frame missing from a truncated file comes after the last demuxed packet in decode order,
   so only this tail can hold promises the file cannot keep. If the stream does not start on a
   keyframe, the frames before the first keyframe are verified the same way.

``verify="full"`` decodes everything instead (exact for damage anywhere, costs a full decode);
frames that then fail in the middle are dropped from the numbering.
A damaged file is not an error as long as one frame survives: it gets a ``DamagedVideoWarning``
and the frames it really has.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import av
import av.error
import numpy as np

from infvideo.video.errors import VideoDecodeError
from infvideo.video.pyav_decode import iter_decoded_frames, seek_keyframe

Verify = Literal["tail", "full"]


class DamagedVideoWarning(UserWarning):
    """The file is readable but damaged (truncated, corrupt packets): fewer frames than announced."""


@dataclass(frozen=True)
class FrameIndex:
    """Presentation-order table of the decodable frames of one stream (picklable: it is what the
    parallel decoder hands its workers so they skip the scan)."""

    pts: np.ndarray  # int64 [num_frames], ascending presentation timestamps, one per frame
    keyframes: np.ndarray  # int64, ascending presentation indices decoding can start at; [0] == 0
    seek_timestamps: np.ndarray  # int64, one per keyframe: min(pts, dts), the seek that cannot overshoot
    time_base: Fraction

    @property
    def num_frames(self) -> int:
        return int(self.pts.size)

    def index_of(self, pts: int | None) -> int | None:
        """Presentation index of the frame with this pts, or None if it is not a counted frame."""
        if pts is None:
            return None
        position = int(np.searchsorted(self.pts, pts))
        if position < self.pts.size and int(self.pts[position]) == pts:
            return position
        return None

    def keyframe_pts(self, slot: int) -> int:
        return int(self.pts[self.keyframes[slot]])

    def keyframe_slot(self, index: int) -> int:
        """Position in ``keyframes`` of the keyframe whose interval holds frame ``index``."""
        return int(np.searchsorted(self.keyframes, index, side="right")) - 1


def scan_frame_index(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: str,
    verify: Verify = "tail",
) -> FrameIndex:
    """Build the ``FrameIndex`` of ``stream`` (see the module docstring for the rule and its cost)."""
    if verify not in ("tail", "full"):
        raise ValueError(f"verify must be 'tail' or 'full', got {verify!r}")
    frame_pts, key_pts, key_seek, first_timestamp, damaged, without_pts = _demux_candidates(container, stream)
    if frame_pts.size == 0:
        if without_pts:
            raise VideoDecodeError(
                f"{path}: the video packets carry no timestamps (a raw elementary stream?), so frames cannot "
                "be addressed exactly; remux it into a container first, e.g. `ffmpeg -i IN -c copy OUT.mp4`"
            )
        raise VideoDecodeError(f"{path}: the video stream has no readable frame (empty or truncated file)")

    index = _build(frame_pts, key_pts, key_seek, first_timestamp, stream.time_base)
    if verify == "full":
        regions = [(0, index.num_frames)]
    else:
        regions = [(index.keyframe_slot(index.num_frames - 1), index.num_frames)]
        starts_on_keyframe = key_pts.size > 0 and int(key_pts.min()) == int(frame_pts[0])
        if not starts_on_keyframe and index.keyframes.size > 1:
            regions.insert(0, (0, int(index.keyframes[1])))  # frames before the first real keyframe
    try:
        missing = _undecodable(container, stream, index, regions)
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"{path}: cannot seek in the video stream ({error})") from error
    if missing.size:
        damaged = True
        frame_pts = np.setdiff1d(index.pts, missing)
        keep = np.isin(key_pts, frame_pts)
        if frame_pts.size == 0:
            raise VideoDecodeError(f"{path}: no frame of the video stream can be decoded (corrupt file)")
        index = _build(frame_pts, key_pts[keep], key_seek[keep], first_timestamp, stream.time_base)

    announced = int(stream.frames or 0)
    if damaged or announced > index.num_frames:
        warnings.warn(
            f"{path}: damaged or truncated video; {index.num_frames} decodable frames"
            + (f" of {announced} announced" if announced else ""),
            DamagedVideoWarning,
            stacklevel=3,
        )
    return index


def _demux_candidates(container, stream):
    """Every countable packet's pts, keyframe pts and seek timestamps, without decoding."""
    frame_pts: list[int] = []
    key_pts: list[int] = []
    key_seek: list[int] = []
    first_timestamp: int | None = None
    damaged = False
    without_pts = False
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError:
            damaged = True  # the rest of the file cannot be read; verification settles the tail
            break
        if packet.size == 0:
            continue
        if packet.is_corrupt:
            damaged = True
            continue
        if packet.pts is None:
            without_pts = True
            continue
        timestamp = packet.pts if packet.dts is None else min(packet.pts, packet.dts)
        first_timestamp = timestamp if first_timestamp is None else min(first_timestamp, timestamp)
        if packet.is_discard:
            continue  # decoded for reference but never shown (edit-list pre-roll)
        frame_pts.append(packet.pts)
        if packet.is_keyframe:
            key_pts.append(packet.pts)
            key_seek.append(timestamp)
    return (
        np.unique(np.asarray(frame_pts, dtype=np.int64)),
        np.asarray(key_pts, dtype=np.int64),
        np.asarray(key_seek, dtype=np.int64),
        first_timestamp,
        damaged,
        without_pts,
    )


def _build(frame_pts, key_pts, key_seek, first_timestamp, time_base) -> FrameIndex:
    order = np.argsort(key_pts, kind="stable")
    key_pts, key_seek = key_pts[order], key_seek[order]
    keyframes = np.searchsorted(frame_pts, key_pts).astype(np.int64)
    if keyframes.size == 0 or keyframes[0] != 0:
        # Frames before the first keyframe are reached by decoding from the very start of the stream.
        keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
        key_seek = np.concatenate([[first_timestamp], key_seek]).astype(np.int64)
    keyframes, first = np.unique(keyframes, return_index=True)
    return FrameIndex(pts=frame_pts, keyframes=keyframes, seek_timestamps=key_seek[first], time_base=Fraction(time_base))


def _undecodable(container, stream, index: FrameIndex, regions: list[tuple[int, int]]) -> np.ndarray:
    """Pts of counted frames that the decoder does not produce, for each region given as
    (keyframe slot to start decoding at, presentation index to stop before)."""
    missing: list[np.ndarray] = []
    for slot, stop in regions:
        expected = index.pts[int(index.keyframes[slot]) : stop]
        last = int(expected[-1])
        packets = seek_keyframe(container, stream, index.keyframe_pts(slot), int(index.seek_timestamps[slot]))
        produced: list[int] = []
        for frame in iter_decoded_frames(stream, packets):
            if frame.pts is not None:
                produced.append(frame.pts)
                if frame.pts >= last:
                    break
        missing.append(expected[~np.isin(expected, np.asarray(produced, dtype=np.int64))])
    return np.concatenate(missing)
