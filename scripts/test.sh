#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, lints, runs every test (as root: the
# tests create real namespaces, veths and OVS instances), and ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-deps.sh

npx eslint .
report=$(mktemp /tmp/merak-vitest-XXXXXX.json)
trap 'rm -f "$report"' EXIT
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$report" || echo "tests: 0 passed, 1 failed"
exit $rc
