#!/usr/bin/env bash
# Paper table row: ∞-VideoChat2 Uniform — NExT-QA, EgoSchema subset, Video-MME, MovieChat-1K
exec "$(dirname "$0")/_row.sh" videochat2 uniform nextqa egoschema video_mme moviechat
