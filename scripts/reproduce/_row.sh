#!/usr/bin/env bash
# One paper table row: a model and a memory variant over benchmarks, predict -> match/judge -> score.
#   _row.sh MODEL MEMORY BENCHMARK...      e.g. _row.sh video_llama sticky nextqa egoschema moviechat
# MODEL: video_llama | videochat2; MEMORY: a shipped memory config (infvideo/configs/memory/) without .yaml.
# Paths: the data locations in infvideo/configs/<model>/<benchmark>.yaml, or pass dotlist overrides in
# $INFVIDEO_OVERRIDES (e.g. "data.video_folder=/data/nextqa/videos model.checkpoints.llm=/ckpt/llama").
# Judge: $JUDGE_MODEL at $JUDGE_BASE_URL (unset = OpenAI; key in OPENAI_API_KEY).
# Matching: as the shipped protocol/paper config says (match reads it from each run's config.yaml):
# Video-LLaMA's free text by OpenAI text-embedding-ada-002 over options A-D (OPENAI_API_KEY, and
# OPENAI_BASE_URL for another server); VideoChat2's answers without a letter count wrong. Offline,
# INFVIDEO_OVERRIDES="protocol.matcher=minilm" matches with MiniLM instead (report marks those rows †).
# Seeds: $SEEDS (default "42"); report mean ± std over >= 3 seeds for headline numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
INFVIDEO=${INFVIDEO:-.venv/bin/infvideo}
model=$1 memory=$2; shift 2
judge_args=(--model "${JUDGE_MODEL:-gpt-3.5-turbo}")
[[ -n "${JUDGE_BASE_URL:-}" ]] && judge_args+=(--base-url "$JUDGE_BASE_URL")
# The stage that scores each benchmark (match or judge, from the task table), with the matcher it needs
# checked now: a missing key must not surface after hours of predict.
declare -A stage
for benchmark in "$@"; do
  # shellcheck disable=SC2086  # INFVIDEO_OVERRIDES is a list of dotlist words
  stage[$benchmark]=$($INFVIDEO check-scoring --config "$model/$benchmark" --config "memory/$memory" --config protocol/paper \
    ${INFVIDEO_OVERRIDES:-} | tail -n 1)
done
for benchmark in "$@"; do
  for seed in ${SEEDS:-42}; do
    # predict exits 3 when some questions ended in error lines: they count as wrong in the score, whose
    # protocol says how many; fix the cause and rerun predict with --retry-errors. Any other failure stops.
    status=0
    # shellcheck disable=SC2086  # INFVIDEO_OVERRIDES is a list of dotlist words
    run_dir=$($INFVIDEO predict --config "$model/$benchmark" --config "memory/$memory" --config protocol/paper \
      "run.seed=$seed" ${INFVIDEO_OVERRIDES:-} | tail -n 1) || status=$?
    if [[ $status -eq 3 ]]; then
      echo "warning: $run_dir has questions with error lines (counted wrong); see predict's summary above" >&2
    elif [[ $status -ne 0 ]]; then
      exit "$status"
    fi
    case ${stage[$benchmark]} in
      judge) $INFVIDEO judge "$run_dir" "${judge_args[@]}" ;;
      match) $INFVIDEO match "$run_dir" ;;
    esac
    $INFVIDEO score "$run_dir"
    echo "$run_dir" >> "outputs/reproduce_${model}_${memory}.runs"
  done
done
echo "runs listed in outputs/reproduce_${model}_${memory}.runs; compare with: $INFVIDEO report \$(cat outputs/reproduce_*.runs)"
