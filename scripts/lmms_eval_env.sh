#!/usr/bin/env bash
# The lmms-eval environment (docs/lmms-eval.md): a venv of its own, never the main .venv.
#   torch 2.13.0 (the CPU wheel on disk; our range), infvideo with the lmms-eval extra, then lmms-eval 0.7.3
#   without its dependency list: that list pulls torchvision, which PyPI only has for CUDA torch builds (0.28.0
#   fails to import beside the CPU wheel: "operator torchvision::nms does not exist", and transformers imports
#   it when present), plus timm, wandb and more that a video task with our models never imports.
# Usage: scripts/lmms_eval_env.sh [VENV]   (default .venv-lmms-eval; GPU users install their torch first)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-lmms-eval}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet torch==2.13.0
"$VENV/bin/python" -m pip install --quiet -e '.[lmms-eval]' pytest
"$VENV/bin/python" -m pip install --quiet --no-deps lmms-eval==0.7.3
# lmms-eval is importable, and our two models are in its registry (the entry point above)
"$VENV/bin/python" -c "from lmms_eval.models import get_model; get_model('infvideo_llama'); get_model('infvideo_chat2')"
touch "$VENV/.installed"
