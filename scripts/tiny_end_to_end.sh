#!/usr/bin/env bash
# The README's "Evaluate" walk-through on a CPU in a few minutes: synthetic data, two tiny sweeps
# (NExT-QA multiple choice, MovieChat-1K open-ended), option matching, judging against the offline
# stand-in judge server (MiniLM similarity; NOT an LLM -- point --base-url at vLLM/llama.cpp/Ollama
# for real numbers), scores and a report with plots.
set -euo pipefail
cd "$(dirname "$0")/.."
INFVIDEO=${INFVIDEO:-.venv/bin/infvideo}
PORT=${PORT:-8765}
$INFVIDEO demo-data outputs/tiny/data
$INFVIDEO sweep sweeps/tiny_nextqa --quiet
$INFVIDEO sweep sweeps/tiny_moviechat --quiet
$INFVIDEO match outputs/tiny/runs/nextqa/* --quiet
$INFVIDEO judge-server --port "$PORT" & server=$!
trap 'kill $server' EXIT
for _ in $(seq 120); do (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.5; done
$INFVIDEO judge outputs/tiny/runs/moviechat/* --base-url "http://127.0.0.1:$PORT/v1" --model minilm-stand-in --cache-dir outputs/tiny/judge_cache --quiet
$INFVIDEO score outputs/tiny/runs/*/* > /dev/null
$INFVIDEO report outputs/tiny/runs/*/* --output-dir outputs/tiny/report --attention
