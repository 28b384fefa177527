#!/usr/bin/env bash
# Paper table row: MovieChat's memory in the Video-LLaMA Q-former — MovieChat-1K (and EgoSchema)
exec "$(dirname "$0")/_row.sh" video_llama moviechat moviechat egoschema
