#!/usr/bin/env bash
# Paper table row: ∞-VideoChat2 Sticky — NExT-QA, EgoSchema subset, Video-MME, MovieChat-1K
exec "$(dirname "$0")/_row.sh" videochat2 sticky nextqa egoschema video_mme moviechat
