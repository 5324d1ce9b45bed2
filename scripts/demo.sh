#!/usr/bin/env bash
# The main job on its embedded default: installs what is missing, builds, runs `merak demo`
# (a local emulation of 5 vhosts, Merak's end-to-end scenario, the ping test, the report).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-deps.sh
exec node --enable-source-maps lab/dist/cli/main.js demo "$@"
