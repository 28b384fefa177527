"""The lmms-eval tests' local data: the local Video-MME task of ``infvideo/lmms_eval_models/local_task.py``
(lmms-eval's own Video-MME prompt, scoring and aggregation on synthetic videos; no hub, no network).

These tests run only in the lmms-eval venv (``make test-lmms-eval``); the main suite does not collect them
(pyproject's ``norecursedirs``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from infvideo.lmms_eval_models import local_task

# lmms-eval's task utils read HF_HOME when imported, so it is set before any test imports lmms_eval.
HF_HOME = Path(tempfile.mkdtemp(prefix="infvideo-lmms-eval-hf-"))
os.environ["HF_HOME"] = str(HF_HOME)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

# Small enough for seconds per run on a CPU; the memory is the continuous one unless a test says otherwise.
TINY_ARGS = "preset=tiny,device=cpu,frames_per_chunk=4,num_chunks=3,decoder=pyav,num_basis=16,memory.num_samples=32"


@pytest.fixture(scope="session")
def local_task_folder() -> Path:
    """The folder to pass as lmms-eval's ``--include_path``."""
    return local_task.write_local_task(HF_HOME, HF_HOME / "tasks")


def video_path(video: str) -> str:
    return str(local_task.video_path(HF_HOME, video))
