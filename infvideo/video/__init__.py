"""Video decoding, the reference's frame-index rules, and chunked streaming."""

# Exports load on first use: importing the package (e.g. for ``indices``) stays free of PyAV, and
# worker processes of the parallel decoder do not import torch through ``preprocess``.
_EXPORTS = {
    "VideoSource": "source",
    "open_video": "source",
    "available_backends": "source",
    "VideoMetadata": "metadata",
    "VideoDecodeError": "errors",
    "NoVideoStreamError": "errors",
    "FrameIndexError": "errors",
    "DamagedVideoWarning": "pyav_index",
    "PyAVSource": "pyav_source",
    "DecordSource": "decord_source",
    "ParallelDecoder": "parallel",
    "plan_keyframe_groups": "parallel",
    "iter_chunks": "stream",
    "iter_index_chunks": "stream",
    "split_like_torch_chunk": "stream",
    "split_like_torch_split": "stream",
    "preprocess_video_llama": "preprocess",
    "preprocess_videochat2": "preprocess",
    "PREPROCESSORS": "preprocess",
    "CLIP_MEAN": "preprocess",
    "CLIP_STD": "preprocess",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
