#!/usr/bin/env bash
# npm run bench: tabvec against hnswlib-wasm, edgevec, voy-search,
# client-vector-search and hnswlib-node, in Node and Chromium (bench/run.mjs).
#   npm run bench -- --smoke          quick run of the whole harness
#   npm run bench -- --native         the native C++ benchmark (tabvec vs hnswlib) instead
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--native" ]; then
  shift
  exec build/native/bench/tabvec_bench "$@"
fi
exec node --expose-gc --experimental-wasm-modules --no-warnings bench/run.mjs "$@"
