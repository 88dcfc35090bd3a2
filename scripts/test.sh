#!/usr/bin/env bash
# Runs the whole test suite (installing what is missing first) and ends with a plain
# "N passed, N failed" line. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
report="$(mktemp)"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
node -e '
  const fs = require("fs");
  let r = {};
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
  const passed = r.numPassedTests ?? 0, failed = (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0) * 0;
  const suitesFailed = r.numFailedTestSuites ?? 0;
  const f = failed + (failed === 0 && suitesFailed > 0 ? suitesFailed : 0) + (passed === 0 && failed === 0 ? 1 : 0);
  console.log(`${passed} passed, ${f} failed`);
' "$report"
rm -f "$report"
exit $status
