#!/usr/bin/env bash
# Runs the whole test suite (installing what is missing first) and ends with a plain
# "N passed, N failed" line. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }
# Checks that are not vitest tests; each counts as one test in the final line.
checks_passed=0 checks_failed=0
check() {
  local name="$1"; shift
  if "$@"; then checks_passed=$((checks_passed + 1)); else echo "CHECK FAILED: $name"; checks_failed=$((checks_failed + 1)); fi
}
check typecheck npm run --silent typecheck
check build npm run --silent build
check error-docs node scripts/gen-error-docs.mjs --check
check config-docs node scripts/gen-config-docs.mjs --check
check import-cycles node scripts/check-cycles.mjs
report="$(mktemp)"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
[ "$checks_failed" -gt 0 ] && status=1
node -e '
  const fs = require("fs");
  let r = {};
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
  const passed = r.numPassedTests ?? 0, failed = (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0) * 0;
  const suitesFailed = r.numFailedTestSuites ?? 0;
  const f = failed + (failed === 0 && suitesFailed > 0 ? suitesFailed : 0) + (passed === 0 && failed === 0 ? 1 : 0);
  const cp = Number(process.argv[2]), cf = Number(process.argv[3]);
  console.log(`${passed + cp} passed, ${f + cf} failed`);
' "$report" "$checks_passed" "$checks_failed"
rm -f "$report"
exit $status
