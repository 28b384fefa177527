"""The ``infvideo`` command line (``main``) and ``guarded``, which every entry point runs through."""

from infvideo.cli.main import guarded, main

__all__ = ["guarded", "main"]
