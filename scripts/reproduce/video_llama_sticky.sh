#!/usr/bin/env bash
# Paper table row: ∞-Video-LLaMA Sticky — NExT-QA, EgoSchema subset, MovieChat-1K
exec "$(dirname "$0")/_row.sh" video_llama sticky nextqa egoschema moviechat
