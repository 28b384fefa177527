"""``infvideo app`` (a Gradio page) and ``infvideo chat`` (a terminal) over one core, ``session``.

Only ``web`` imports gradio (the ``app`` extra); ``session`` and ``chat`` run without it."""
