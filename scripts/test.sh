#!/usr/bin/env bash
# Runs every test suite and ends with one summary line:
#   tabvec: N passed, M failed, K skipped
# Suites: GoogleTest native, allocation-failure injection, native under ASan+UBSan, wasm (baseline and SIMD)
# under Node; libFuzzer (snapshot loading, operation sequences); Vitest
# (package API in Node, Chromium, npm pack, benchmark smoke).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/test-logs
passed=0 failed=0 skipped=0
broken=()

gtest() {  # name, command...
  local name=$1 log="build/test-logs/$1.log" json="build/test-logs/$1.json"
  shift
  echo "== $name"
  rm -f "$json"
  "$@" --gtest_output="json:$json" >"$log" 2>&1
  local code=$?
  grep -E '^\[ (recall|churn) ' "$log" || true
  # Counts from GoogleTest's own JSON report; a missing report means the binary died.
  local p=0 f=0 s=0
  if [ -f "$json" ]; then
    read -r p f s < <(node -e '
      const r = require(process.argv[1]);
      const cases = r.testsuites.flatMap((suite) => suite.testsuite);
      const skipped = cases.filter((c) => c.result === "SKIPPED").length;
      console.log(r.tests - r.failures - r.disabled - skipped, r.failures, skipped);' "$PWD/$json")
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [ $code -ne 0 ] || [ ! -f "$json" ]; then
    [ "$f" -eq 0 ] && failed=$((failed + 1))
    broken+=("$name")
    echo "--- $name failed (exit $code); its log:"
    grep -E 'Failure|FAILED|ERROR|error|Sanitizer|runtime error' -A6 "$log" | head -80
  fi
  echo "   passed $p, failed $f, skipped $s"
}

gtest gtest-native build/native/tests/core/tabvec_tests
gtest gtest-fault-injection build/native/tests/core/tabvec_fault_tests
gtest gtest-fulltext-fault-injection build/native/tests/core/tabvec_fulltext_fault_tests
# Under ASan the two scale tests take ~200 s each and add no code path the rest
# does not cover; they run natively and in both wasm builds.
gtest gtest-asan-ubsan env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/tests/core/tabvec_tests \
  --gtest_filter=-Recall.ChurnKeepsRecallAndMemory:Recall.ChurnWithRerankKeepsRecallAndMemory:Index.MemoryAccountingIsExact
gtest gtest-wasm-baseline node --no-experimental-fetch build/wasm/tests/core/tabvec_tests.cjs
gtest gtest-wasm-simd node --no-experimental-fetch build/wasm/tests/core/tabvec_tests_simd.cjs

# libFuzzer under ASan+UBSan, from a fixed seed for a fixed time
# (TABVEC_FUZZ_SECONDS each, default 60). A crash input lands in
# build/test-logs/ for replay:
#   build/fuzz/tests/fuzz/<target> build/test-logs/crash-<hash>
fuzz() {  # name, corpus dir, binary
  local name=$1 corpus=$2 binary=$3 log="build/test-logs/$1.log"
  echo "== $name"
  "$binary" "$corpus" -seed=1 -max_total_time="${TABVEC_FUZZ_SECONDS:-60}" -max_len=4096 -len_control=20 -timeout=30 \
    -artifact_prefix=build/test-logs/ -print_final_stats=1 >"$log" 2>&1
  local code=$?
  grep -E '^stat::number_of_executed_units' "$log" | sed 's/^/   /'
  if [ $code -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    broken+=("$name")
    echo "--- $name found a failure (exit $code); its log:"
    grep -E 'fuzz:|ERROR|SUMMARY|runtime error|Test unit written' -A3 "$log" | head -40
  fi
}
rm -rf build/fuzz-corpus && mkdir -p build/fuzz-corpus/snapshot build/fuzz-corpus/ops build/fuzz-corpus/fulltext build/fuzz-corpus/hybrid
build/fuzz/tests/fuzz/tabvec_fuzz_seeds build/fuzz-corpus/snapshot >/dev/null
fuzz fuzz-snapshot build/fuzz-corpus/snapshot build/fuzz/tests/fuzz/tabvec_fuzz_snapshot
fuzz fuzz-ops build/fuzz-corpus/ops build/fuzz/tests/fuzz/tabvec_fuzz_ops
fuzz fuzz-fulltext build/fuzz-corpus/fulltext build/fuzz/tests/fuzz/tabvec_fuzz_fulltext
fuzz fuzz-hybrid build/fuzz-corpus/hybrid build/fuzz/tests/fuzz/tabvec_fuzz_hybrid

# What a page downloads for the core API (create, add, search), gzip -9,
# against its budget (issue 11): a check, not a timing.
echo "== size"
if node scripts/size.mjs; then passed=$((passed + 1)); else failed=$((failed + 1)); broken+=(size); fi

echo "== vitest"
rm -f build/test-logs/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile=build/test-logs/vitest.json
vitest_code=$?
if [ -f build/test-logs/vitest.json ]; then
  read -r p f s < <(node -e "const r=require('./build/test-logs/vitest.json');console.log(r.numPassedTests,r.numFailedTests,r.numPendingTests+r.numTodoTests)")
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  [ "$f" -gt 0 ] || [ $vitest_code -ne 0 ] && broken+=(vitest)
  [ "$f" -eq 0 ] && [ $vitest_code -ne 0 ] && failed=$((failed + 1))
else
  broken+=(vitest)
  failed=$((failed + 1))
fi

[ ${#broken[@]} -gt 0 ] && echo "failing suites: ${broken[*]}"
echo "tabvec: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
