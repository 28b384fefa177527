#!/usr/bin/env bash
# Paper table row: ∞-VideoChat2 No-STM Sticky (alpha = 0) — MovieChat-1K
exec "$(dirname "$0")/_row.sh" videochat2 no_stm_sticky moviechat
