#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, lints, runs every test (as root: the
# tests create real namespaces, veths and OVS instances), and ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-deps.sh

npx eslint .
# The closing line counts every failure, failed suites and errors outside tests included
# (test/summary/): the reporter writes the summary, the CLI prints it and picks the exit code.
summary=$(mktemp /tmp/merak-vitest-summary-XXXXXX.json)
trap 'rm -f "$summary"' EXIT
set +e
MERAK_TEST_SUMMARY="$summary" npx vitest run --reporter=default --reporter=./test/summary/reporter.ts "$@"
rc=$?
set -e
node test/dist/summary/main.js "$summary" "$rc"
