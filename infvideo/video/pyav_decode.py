"""The two PyAV moves every reader here is built from: seek to a keyframe, decode forward.

Kept apart from the index and the source so the metadata scan (which verifies the tail by
decoding it) and frame reading share one definition of "what the decoder can produce".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import av
import av.error


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
