#!/usr/bin/env bash
# The main job on its embedded default: installs what is missing, builds, runs the local demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-deps.sh
exec node --enable-source-maps coordinator/dist/local/demo.js "$@"
