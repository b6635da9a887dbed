#!/usr/bin/env bash
# Kept for old habits: the tour is now `torghut demo` (see README, "The end-to-end demo").
# Usage: scripts/demo.sh [WORKSPACE] [--fast]
set -euo pipefail
WS=${1:-demo-workspace}
shift || true
exec "$(dirname "$0")/../.venv/bin/torghut" demo --workspace "$WS" "$@"
