#!/usr/bin/env bash
# Paper table row: MA-LMM-style memory bank in the Video-LLaMA Q-former (our added baseline) — NExT-QA, EgoSchema, MovieChat-1K
exec "$(dirname "$0")/_row.sh" video_llama malmm nextqa egoschema moviechat
