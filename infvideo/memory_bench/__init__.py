"""``infvideo memory-bench``: needle-in-a-video-haystack for the memory alone.

A frame-token stream (synthetic, or real cached tokens) with needles at known depths goes through
each memory chunk by chunk; queries aimed at the needles then read it through one shared set of
Q-former-like projections. ``haystack`` builds the streams, ``zoo`` holds the memories, ``probes``
scores a read memory, ``cell`` runs one (memory, haystack) cell.
"""

__all__ = ["MEMORIES", "Cell", "run_cell"]


def __getattr__(name: str):
    # Loaded on first use: registering the CLI command must not import torch for every `infvideo` call.
    if name in __all__:
        from . import cell

        return getattr(cell, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
