#!/usr/bin/env bash
# A memory sweep end to end: predict the grid (one vision pass per video), match or judge, score,
# and the comparison table + accuracy-vs-setting plots.
#   scripts/sweep_example.sh sweeps/video_llama_nextqa_tau [dotlist overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
INFVIDEO=${INFVIDEO:-.venv/bin/infvideo}
grid=$1; shift
mapfile -t run_dirs < <($INFVIDEO sweep "$grid" "$@" --dry-run | cut -d' ' -f1)
$INFVIDEO sweep "$grid" "$@"
for run_dir in "${run_dirs[@]}"; do
  case $run_dir in
    */moviechat/*|*/nextoe/*) $INFVIDEO judge "$run_dir" --model "${JUDGE_MODEL:-gpt-3.5-turbo}" ${JUDGE_BASE_URL:+--base-url "$JUDGE_BASE_URL"} ;;
    *) $INFVIDEO match "$run_dir" ;;
  esac
  $INFVIDEO score "$run_dir" > /dev/null
done
$INFVIDEO report "${run_dirs[@]}" --output-dir "outputs/report/$(basename "$grid" .yaml)"
