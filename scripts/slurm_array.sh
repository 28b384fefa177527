#!/usr/bin/env bash
# Predict one benchmark on a GPU cluster in 8 shards, one per array task, then merge and score:
#   sbatch --array=0-7 scripts/slurm_array.sh videochat2/nextqa memory/sticky
#   (after all tasks end)  infvideo merge RUN_DIR && infvideo match RUN_DIR && infvideo score RUN_DIR
# Each task reads SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT and answers only its shard
# (predictions.shard-I-of-N.jsonl); a re-submitted task resumes where it stopped.
#SBATCH --job-name=infvideo
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=12:00:00
#SBATCH --output=outputs/slurm/%x-%A_%a.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
args=()
for file in "$@"; do args+=(--config "$file"); done
# Frame tokens shared by all later sweeps over memory settings.
.venv/bin/infvideo predict "${args[@]}" run.token_cache=outputs/tokens ${INFVIDEO_OVERRIDES:-}
