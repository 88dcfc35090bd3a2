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
# Two vitest runs: the suite, then the bench smoke on its own (it measures throughput and peak
# RSS of child processes, which two concurrent test workers would starve). With arguments, one
# run of exactly what was asked.
report="$(mktemp)"; bench_report="$(mktemp)"
if [ "$#" -gt 0 ]; then
  npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
  status=$?
  echo '{}' > "$bench_report"
else
  npx vitest run --reporter=default --reporter=json --outputFile.json="$report" --exclude test/bench-smoke.test.ts
  status=$?
  npx vitest run --reporter=default --reporter=json --outputFile.json="$bench_report" test/bench-smoke.test.ts || status=1
fi
[ "$checks_failed" -gt 0 ] && status=1
node -e '
  const fs = require("fs");
  const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch { return null; } };
  let passed = 0, failed = 0;
  for (const [i, f] of [process.argv[1], process.argv[2]].entries()) {
    const r = read(f);
    if (r === null) { failed += 1; continue; }           // a run that wrote no report failed
    if (i === 1 && r.numTotalTests === undefined) continue; // no bench run requested
    const p = r.numPassedTests ?? 0, t = r.numFailedTests ?? 0, s = r.numFailedTestSuites ?? 0;
    passed += p;
    failed += t + (t === 0 && s > 0 ? s : 0) + (p === 0 && t === 0 ? 1 : 0);
  }
  const cp = Number(process.argv[3]), cf = Number(process.argv[4]);
  console.log(`${passed + cp} passed, ${failed + cf} failed`);
' "$report" "$bench_report" "$checks_passed" "$checks_failed"
rm -f "$report" "$bench_report"
exit $status
