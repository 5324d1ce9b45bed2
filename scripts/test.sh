#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, lints, runs every test (as root: the
# tests create real namespaces, veths and OVS instances), and ends with "N passed, N failed".
#
# The image smoke test (test/images/smoke.sh: builds the vhost and coordinator images and runs them,
# docs/images.md) runs in CI (CI=true) and when asked: `npm test -- --images` or MERAK_IMAGE_TEST=1.
# Otherwise it is not run, and this says so and why.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
images=${MERAK_IMAGE_TEST:-0} why=''
[[ ${CI:-} == true ]] && images=1 why='CI=true'
[[ $images == 1 && -z $why ]] && why='MERAK_IMAGE_TEST=1'
args=()
for a in "$@"; do
  if [[ $a == --images ]]; then images=1 why='--images'; else args+=("$a"); fi
done
source scripts/ensure-deps.sh

npx eslint .
if [[ $images == 1 ]]; then
  echo "image smoke test: running ($why)"
  start=$SECONDS
  if bash test/images/smoke.sh; then smoke="passed in $((SECONDS - start)) s"; else smoke="FAILED after $((SECONDS - start)) s (its output above)"; fi
else
  smoke='not run: it builds and runs the container images (minutes), so only in CI (CI=true) or when asked (npm test -- --images, or MERAK_IMAGE_TEST=1)'
  echo "image smoke test: $smoke"
fi
# The closing line counts every failure, failed suites and errors outside tests included
# (test/summary/): the reporter writes the summary, the CLI prints it and picks the exit code.
summary=$(mktemp /tmp/merak-vitest-summary-XXXXXX.json)
trap 'rm -f "$summary"' EXIT
set +e
MERAK_TEST_SUMMARY="$summary" npx vitest run --reporter=default --reporter=./test/summary/reporter.ts "${args[@]}"
rc=$?
echo "image smoke test: $smoke"
node test/dist/summary/main.js "$summary" "$rc"
rc=$?
set -e
[[ $smoke != FAILED* ]] || exit 1
exit "$rc"
