#!/usr/bin/env bash
# Paper table row: ∞-Video-LLaMA Uniform — NExT-QA, EgoSchema subset, MovieChat-1K
exec "$(dirname "$0")/_row.sh" video_llama uniform nextqa egoschema moviechat
