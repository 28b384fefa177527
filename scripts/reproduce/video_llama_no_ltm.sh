#!/usr/bin/env bash
# Paper table row: ∞-Video-LLaMA No LTM (alpha = 1) — NExT-QA, EgoSchema subset, MovieChat-1K
exec "$(dirname "$0")/_row.sh" video_llama no_ltm nextqa egoschema moviechat
