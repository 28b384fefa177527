#!/usr/bin/env bash
# The package as a user installs it: a clean venv, `pip install .` (a wheel built from this tree, not an
# editable install), then (1) `infvideo predict --config video_llama/nextqa ...` on the tiny preset must find
# its config inside the installed package, and (2) the test suite must pass against the installed package
# (`python -P` keeps the repository itself off sys.path). About 5 minutes on a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Build from a copy of the files git knows (tracked, or untracked and not ignored): a stale build/ folder of
# an earlier setuptools build would otherwise put modules that no longer exist into the wheel.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src" 2>/dev/null || true
"$PYTHON" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet torch==2.13.0  # the CPU wheel first, as the Makefile does
"$py" -m pip install --quiet "$work/src[dev]"
location=$(cd "$work" && "$py" -P -c 'import infvideo, os; print(os.path.dirname(infvideo.__file__))')
[[ $location == "$work"/venv/* ]] || { echo "wheel check: infvideo imported from $location, not the clean venv" >&2; exit 1; }
(
  cd "$work"
  venv/bin/infvideo demo-data data --quiet
  venv/bin/infvideo predict --config video_llama/nextqa model.preset=tiny model.device=cpu \
    data.annotations=data/questions.csv data.video_folder=data sampling.rule=segment_midpoints \
    sampling.frames_per_chunk=4 sampling.num_chunks=2 generation.max_new_tokens=4 run.output_dir=runs --quiet
  test "$(find runs -name predictions.jsonl -exec cat {} + | wc -l)" -eq 3
)
"$py" -P -m pytest -q -p no:cacheprovider
echo "wheel check: the installed package resolves shipped configs and passes the tests"
