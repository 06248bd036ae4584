#!/usr/bin/env bash
# Builds the WebAssembly module (SIMD and baseline), the TypeScript package
# into dist/, and, unless TABVEC_BUILD_TESTS=0, the native and wasm
# GoogleTest binaries, the libFuzzer targets and the native benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
tests="${TABVEC_BUILD_TESTS:-1}"
tests_flag=$([ "$tests" = 1 ] && echo ON || echo OFF)
jobs=$(nproc)

# Emscripten 3.1.6's JS optimizer finds acorn only through NODE_PATH.
export NODE_PATH=/usr/share/nodejs
emcmake cmake -S . -B build/wasm -DCMAKE_BUILD_TYPE=Release -DTABVEC_TESTS=$tests_flag >/dev/null
cmake --build build/wasm -j"$jobs"

if [ "$tests" = 1 ]; then
  cmake -S . -B build/native -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-march=native >/dev/null
  cmake --build build/native -j"$jobs"
  cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DTABVEC_SANITIZE=ON -DTABVEC_BENCH=OFF >/dev/null
  cmake --build build/asan -j"$jobs"
  cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DTABVEC_SANITIZE=ON -DTABVEC_FUZZ=ON -DTABVEC_TESTS=OFF -DTABVEC_BENCH=OFF >/dev/null
  cmake --build build/fuzz -j"$jobs"
fi

rm -rf dist
npx tsc -p js/tsconfig.json
mkdir -p dist/wasm
for build in tabvec tabvec-simd tabvec-text tabvec-text-simd; do
  cp build/wasm/wasm-out/$build.mjs build/wasm/wasm-out/$build.wasm dist/wasm/
done
cp js/src/wasm/*.d.mts dist/wasm/
echo "build: dist/ ready ($(du -sh dist | cut -f1))"

# The demo page (what npm start serves).
npx vite build --config web-demo/vite.config.js --logLevel warn
echo "build: web-demo/dist ready"
