"""Which frames a file can really deliver, in presentation order, and where decoding can start; and
the two PyAV moves every reader here is built from (seek to a keyframe, decode forward), so the scan
(which verifies the tail by decoding it) and frame reading share one definition of "what the decoder
can produce".

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
(once per file and process, however often the file is opened or by which backend) and the frames
it really has.

Timing comes from the same table: the duration runs from the first frame's pts to the end of the
last frame (its pts plus its packet duration), so a variable-frame-rate file reports the time its
frames really cover, not ``frames / nominal rate``.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

import av
import av.error
import numpy as np

from infvideo.video.metadata import VideoDecodeError
from infvideo.video.orientation import display_matrix_of

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
    last_duration: int = 0  # display time of the last frame in time_base units (0 = unknown)
    display_matrix: tuple[int, ...] | None = None  # as the decoder reports it on the frames (see ``orientation``)

    @property
    def num_frames(self) -> int:
        return int(self.pts.size)

    def duration(self, count: int | None = None) -> float:
        """Seconds covered by the first ``count`` frames (default all): from the first frame's pts
        to the next frame's pts, or for the last frame to its pts plus its own duration (the gap
        before it when the container gives none). 0.0 for one frame of unknown duration."""
        count = self.num_frames if count is None else count
        if count < 1:
            return 0.0
        if count < self.num_frames:
            end = int(self.pts[count])
        elif self.last_duration > 0:
            end = int(self.pts[-1]) + self.last_duration
        elif count >= 2:
            end = int(self.pts[-1]) + int(self.pts[-1] - self.pts[-2])
        else:
            return 0.0
        return float((end - int(self.pts[0])) * self.time_base)

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
    frame_pts, durations, key_pts, key_seek, first_timestamp, damaged, without_pts = _demux_candidates(container, stream)
    if frame_pts.size == 0:
        if without_pts:
            raise VideoDecodeError(
                f"{path}: the video packets carry no timestamps (a raw elementary stream?), so frames cannot "
                "be addressed exactly; remux it into a container first, e.g. `ffmpeg -i IN -c copy OUT.mp4`"
            )
        raise VideoDecodeError(f"{path}: the video stream has no readable frame (empty or truncated file)")

    index = _build(frame_pts, durations, key_pts, key_seek, first_timestamp, stream.time_base)
    if verify == "full":
        regions = [(0, index.num_frames)]
    else:
        regions = [(index.keyframe_slot(index.num_frames - 1), index.num_frames)]
        starts_on_keyframe = key_pts.size > 0 and int(key_pts.min()) == int(frame_pts[0])
        if not starts_on_keyframe and index.keyframes.size > 1:
            regions.insert(0, (0, int(index.keyframes[1])))  # frames before the first real keyframe
    try:
        missing, display_matrix = _undecodable(container, stream, index, regions)
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"{path}: cannot seek in the video stream ({error})") from error
    if missing.size:
        damaged = True
        decodable = ~np.isin(index.pts, missing)
        frame_pts, durations = index.pts[decodable], durations[decodable]
        keep = np.isin(key_pts, frame_pts)
        if frame_pts.size == 0:
            raise VideoDecodeError(f"{path}: no frame of the video stream can be decoded (corrupt file)")
        index = _build(frame_pts, durations, key_pts[keep], key_seek[keep], first_timestamp, stream.time_base)
    index = replace(index, display_matrix=display_matrix)

    announced = int(stream.frames or 0)
    if damaged or announced > index.num_frames:
        _warn_once(
            path,
            f"{path}: damaged or truncated video; {index.num_frames} decodable frames"
            + (f" of {announced} announced" if announced else ""),
        )
    return index


# Files already reported damaged in this process, by identity (path, size, modification time), so
# a file rewritten in place is reported again. Opening a file several times is normal: ``open_video``
# falls back from decord to PyAV, the decord source scans with PyAV, a run reopens a video per group.
_WARNED_FILES: set[tuple[str, int, int]] = set()


def _warn_once(path: str, message: str) -> None:
    try:
        status = os.stat(path)
        key = (os.path.realpath(path), status.st_size, status.st_mtime_ns)
    except OSError:
        key = (os.path.realpath(path), -1, -1)
    if key in _WARNED_FILES:
        return
    _WARNED_FILES.add(key)
    warnings.warn(message, DamagedVideoWarning, stacklevel=4)


def _demux_candidates(container, stream):
    """Every countable packet's pts (ascending) with its duration, keyframe pts and seek
    timestamps, without decoding."""
    frame_pts: list[int] = []
    frame_durations: list[int] = []
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
        frame_durations.append(int(packet.duration or 0))
        if packet.is_keyframe:
            key_pts.append(packet.pts)
            key_seek.append(timestamp)
    unique_pts, first = np.unique(np.asarray(frame_pts, dtype=np.int64), return_index=True)
    return (
        unique_pts,
        np.asarray(frame_durations, dtype=np.int64)[first],
        np.asarray(key_pts, dtype=np.int64),
        np.asarray(key_seek, dtype=np.int64),
        first_timestamp,
        damaged,
        without_pts,
    )


def _build(frame_pts, durations, key_pts, key_seek, first_timestamp, time_base) -> FrameIndex:
    order = np.argsort(key_pts, kind="stable")
    key_pts, key_seek = key_pts[order], key_seek[order]
    keyframes = np.searchsorted(frame_pts, key_pts).astype(np.int64)
    if keyframes.size == 0 or keyframes[0] != 0:
        # Frames before the first keyframe are reached by decoding from the very start of the stream.
        keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
        key_seek = np.concatenate([[first_timestamp], key_seek]).astype(np.int64)
    keyframes, first = np.unique(keyframes, return_index=True)
    return FrameIndex(
        pts=frame_pts,
        keyframes=keyframes,
        seek_timestamps=key_seek[first],
        time_base=Fraction(time_base),
        last_duration=int(durations[-1]) if durations.size else 0,
    )


def _undecodable(container, stream, index: FrameIndex, regions: list[tuple[int, int]]) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """Pts of counted frames that the decoder does not produce, for each region given as
    (keyframe slot to start decoding at, presentation index to stop before); and the display
    matrix the decoded frames carry (read here because these are the frames the scan decodes)."""
    missing: list[np.ndarray] = []
    display_matrix = None
    seen_frame = False
    for slot, stop in regions:
        expected = index.pts[int(index.keyframes[slot]) : stop]
        last = int(expected[-1])
        packets = seek_keyframe(container, stream, index.keyframe_pts(slot), int(index.seek_timestamps[slot]))
        produced: list[int] = []
        for frame in iter_decoded_frames(stream, packets):
            if not seen_frame:
                display_matrix, seen_frame = display_matrix_of(frame), True
            if frame.pts is not None:
                produced.append(frame.pts)
                if frame.pts >= last:
                    break
        missing.append(expected[~np.isin(expected, np.asarray(produced, dtype=np.int64))])
    return np.concatenate(missing), display_matrix


# -- the decoder moves: seek to a keyframe, decode forward -------------------------------------


def seek_keyframe(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, keyframe_pts: int, safe_timestamp: int
) -> Iterator[av.Packet]:
    """Position the demuxer on the keyframe with pts ``keyframe_pts`` (or an earlier one) and
    return the packets from there; the decoder is flushed.

    Demuxers index seeks by pts (Matroska) or by dts (MP4). Seeking to the keyframe's pts lands
    exactly on it with a pts index, and usually with a dts index too; it is accepted when the first
    packet is a keyframe at or before the wanted one (keyframes keep their order in both
    timelines). Otherwise the seek is redone at ``safe_timestamp`` = min(pts, dts) of the keyframe,
    which lands on or before it with either index (possibly a keyframe early: correct, more work).
    Landing *after* the keyframe would be wrong: open-GOP frames decoded without their references.
    Raises ``av.error.FFmpegError`` if the demuxer cannot seek at all.
    """
    for target in (keyframe_pts, safe_timestamp):
        try:
            container.seek(int(target), backward=True, any_frame=False, stream=stream)
        except av.error.FFmpegError:
            if target == safe_timestamp:
                raise
            continue
        packets = _packets(container, stream)
        first = next(packets, None)
        if first is None:
            return iter(())
        landed_well = first.is_keyframe and first.pts is not None and first.pts <= keyframe_pts
        if landed_well or target == safe_timestamp:
            return itertools.chain([first], packets)
    raise AssertionError("unreachable")


def iter_decoded_frames(stream: av.video.stream.VideoStream, packets: Iterator[av.Packet]) -> Iterator[av.VideoFrame]:
    """Decode ``packets`` (from ``seek_keyframe``) to the end of the stream, in presentation order.

    Damaged input never ends the iteration early: a packet the demuxer flags as corrupt (the
    partial last packet of a truncated file) is not sent, because sending it makes FFmpeg raise
    and drop the frames still held for reordering; a packet the decoder rejects is skipped. The
    decoder is drained at the end, so each frame that can be produced is produced, and a frame
    that cannot simply never appears (callers match frames by pts and report what is missing).
    """
    for packet in packets:
        if packet.is_corrupt:
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            continue
        yield from frames
    try:
        yield from stream.codec_context.decode(None)
    except av.error.FFmpegError:
        return


def _packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.Packet]:
    """The stream's data packets from the current position; a demuxing error ends them (the rest
    of a damaged file is unreadable), as does PyAV's empty end-of-stream packet."""
    demuxed = container.demux(stream)
    while True:
        try:
            packet = next(demuxed)
        except (StopIteration, av.error.FFmpegError):
            return
        if packet.size == 0:
            return
        yield packet
