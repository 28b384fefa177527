"""Frame-exact reading with PyAV: seek to the keyframe at or before a run of wanted frames, decode
forward, keep the wanted ones. The maintained pure-CPU backend and the basis of the parallel one."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import av
import av.error
import numpy as np

from infvideo.video.metadata import NoVideoStreamError, VideoDecodeError, VideoMetadata, checked_path
from infvideo.video.orientation import Orientation
from infvideo.video.pyav_index import FrameIndex, Verify, iter_decoded_frames, scan_frame_index, seek_keyframe
from infvideo.video.source import plan_request

_MAX_SLOTS_BACK = 2
_THREADED_CONVERSION = int(av.__version__.split(".")[0]) >= 17


class PyAVSource:
    """A video file read through PyAV (FFmpeg bundled in the wheel).

    ``threads``: FFmpeg threads for decoding and RGB conversion (1 = none; 0 = FFmpeg's choice). The
    parallel decoder runs one single-threaded source per worker process instead.
    ``index``: a ``FrameIndex`` from an earlier scan of the same file, to skip the scan.

    The reader keeps its decoder position between calls: a request that starts ahead of the last
    decoded frame, with no keyframe in between, continues decoding instead of seeking back, so
    reading a video chunk by chunk decodes each frame once.

    ``apply_rotation``: return frames as a player shows them, the stream's display matrix (quarter
    turns, mirror) applied, as decord does (default); False returns the stored pixel grid. The
    metadata's width and height are those of the frames returned either way (see ``orientation``).
    A non-square sample aspect ratio is not applied (decord does not apply it either).
    """

    backend = "pyav"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int = 1,
        verify: Verify = "tail",
        index: FrameIndex | None = None,
        apply_rotation: bool = True,
    ) -> None:
        self.path = checked_path(path)
        try:
            self._container = av.open(self.path, metadata_errors="ignore")
        except av.error.FFmpegError as error:
            raise VideoDecodeError(f"{self.path}: cannot be opened as a video file ({error})") from error
        try:
            if not self._container.streams.video:
                raise NoVideoStreamError(f"{self.path}: the file has no video stream")
            self._stream = self._container.streams.video[0]
            self._threads = threads
            if threads != 1:
                self._stream.thread_type = "AUTO"
                self._stream.codec_context.thread_count = threads
            self.index = index if index is not None else scan_frame_index(self._container, self._stream, self.path, verify)
            self.apply_rotation = apply_rotation
            self.orientation = Orientation.from_display_matrix(self.index.display_matrix) if apply_rotation else Orientation()
            self.metadata = self._describe()
        except BaseException:
            self._container.close()
            raise
        self._frames: Iterator[av.VideoFrame] | None = None
        self._next_index: int | None = None  # presentation index the live decoder produces next
        self._seeked_slot = 0  # keyframe slot of the last seek

    # -- VideoSource --------------------------------------------------------------------------

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 [T, H, W, 3] RGB frames at ``indices`` (any order, duplicates allowed)."""
        unique, inverse = plan_request(indices, self.metadata.num_frames, self.path)
        frames = np.empty((unique.size, self.metadata.height, self.metadata.width, 3), dtype=np.uint8)
        self.read_into(unique, frames)
        return frames[inverse]

    def read_into(self, unique: np.ndarray, out: np.ndarray) -> None:
        """Decode the sorted, duplicate-free, in-range ``unique`` indices into ``out`` (uint8
        [len(unique), H, W, 3]) — for callers that own the buffer, like the parallel decoder's
        workers writing straight into shared memory. ``get_frames`` checks indices; this does not."""
        done = 0
        while done < unique.size:
            if not self._can_continue_to(int(unique[done])):
                self._seek_for(int(unique[done]))
            done = self._collect(unique, done, out)

    def close(self) -> None:
        self._frames = None
        self._container.close()

    def __enter__(self) -> PyAVSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- decoding -----------------------------------------------------------------------------

    def _can_continue_to(self, target: int) -> bool:
        """Decoding on from the current position is no more work than seeking: the target is ahead
        and no keyframe lies between the position and the target."""
        if self._frames is None or self._next_index is None or target < self._next_index:
            return False
        keyframe = int(self.index.keyframes[self.index.keyframe_slot(target)])
        return keyframe <= self._next_index

    def _seek_for(self, target: int, slots_back: int = 0) -> None:
        slot = max(self.index.keyframe_slot(target) - slots_back, 0)
        try:
            packets = seek_keyframe(self._container, self._stream, self.index.keyframe_pts(slot), int(self.index.seek_timestamps[slot]))
        except av.error.FFmpegError as error:
            self._frames = None
            raise VideoDecodeError(f"{self.path}: cannot seek to the keyframe before frame {target} ({error})") from error
        self._frames = iter_decoded_frames(self._stream, packets)
        self._next_index = None
        self._seeked_slot = slot

    def _collect(self, unique: np.ndarray, done: int, out: np.ndarray) -> int:
        """Decode forward, storing wanted frames into ``out[done:]``; stop when all are stored or a
        seek would now skip work. Returns the new count of stored frames."""
        assert self._frames is not None
        just_seeked = self._next_index is None
        for frame in self._frames:
            index = self.index.index_of(frame.pts)
            if index is None:
                continue  # not a counted frame (e.g. a leading frame of an open GOP after a seek)
            if just_seeked and index > unique[done]:
                return self._seek_earlier(unique, done)
            just_seeked = False
            self._next_index = index + 1
            if index < unique[done]:
                continue
            if index > unique[done]:
                self._frames = None
                raise VideoDecodeError(f"{self.path}: frame {int(unique[done])} could not be decoded")
            out[done] = self._to_rgb(frame)
            done += 1
            if done == unique.size or not self._can_continue_to(int(unique[done])):
                return done
        self._frames = None
        raise VideoDecodeError(f"{self.path}: frame {int(unique[done])} could not be decoded (stream ended)")

    def _seek_earlier(self, unique: np.ndarray, done: int) -> int:
        """The first frame after a seek is already past the target: either the demuxer landed after
        the wanted keyframe (a seek index that disagrees with the packets; ``seek_keyframe`` guards
        against it, this is the second line), or the frames up to the target are damaged. Retry
        from up to ``_MAX_SLOTS_BACK`` keyframes earlier, then give up."""
        target = int(unique[done])
        slots_back = self.index.keyframe_slot(target) - self._seeked_slot + 1
        if self._seeked_slot == 0 or slots_back > _MAX_SLOTS_BACK:
            self._frames = None
            raise VideoDecodeError(f"{self.path}: frame {target} could not be decoded (damaged near it?)")
        self._seek_for(target, slots_back=slots_back)
        return done

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        # Since PyAV 17 swscale defaults to one thread per CPU for every conversion: slower for
        # small frames and contended when several decoders run side by side, so it follows
        # ``threads`` too (older PyAV converts single-threaded and has no such argument).
        context = self._stream.codec_context
        width, height = int(context.width), int(context.height)
        if _THREADED_CONVERSION:
            picture = frame.to_ndarray(format="rgb24", width=width, height=height, threads=self._threads)
        else:
            picture = frame.to_ndarray(format="rgb24", width=width, height=height)
        return self.orientation.apply(picture)

    def _describe(self) -> VideoMetadata:
        context = self._stream.codec_context
        rate = self._stream.average_rate or self._stream.guessed_rate
        num_frames = self.index.num_frames
        fps, duration = frame_timing(self.index, num_frames, float(rate) if rate else 0.0)
        width, height = self.orientation.displayed_size(int(context.width), int(context.height))
        return VideoMetadata(
            path=self.path,
            num_frames=num_frames,
            fps=fps,
            duration=duration,
            width=width,
            height=height,
            keyframes=tuple(int(k) for k in self.index.keyframes),
            codec=str(context.name),
            backend=self.backend,
        )


def frame_timing(index: FrameIndex, num_frames: int, nominal_fps: float) -> tuple[float, float]:
    """(fps, duration) of the first ``num_frames`` frames of ``index``: the duration
    their timestamps cover and the average rate over it. The stream's nominal rate is used only
    when the timestamps say nothing (one frame of unknown duration)."""
    duration = index.duration(num_frames)
    if duration > 0:
        return num_frames / duration, duration
    return nominal_fps, (num_frames / nominal_fps if nominal_fps > 0 else 0.0)
