"""∞-Video-LLaMA and ∞-VideoChat2 as lmms-eval models (``infvideo_llama``, ``infvideo_chat2``).

An entry-point layer like ``infvideo/cli``: lmms-eval finds the models through the ``lmms_eval.models``
entry point (``plugin.py``), builds them from ``--model_args`` (``settings.py``: the same run config as
``infvideo predict``), and calls ``adapter.py``'s ``generate_until``. Only ``plugin.py`` and ``adapter.py``
import lmms_eval; the rest runs without it. docs/lmms-eval.md says how to install and run it.
"""
