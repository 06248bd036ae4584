#!/usr/bin/env bash
# Installs whatever a fresh Debian machine lacks for building and testing
# tabvec, and nothing twice: Debian packages, npm packages, and the
# uncompressed Fashion-MNIST images the tests and benchmark read.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v clang++ >/dev/null || need+=(clang)
command -v make >/dev/null || need+=(make)
[ -f /usr/src/googletest/CMakeLists.txt ] || need+=(googletest)
command -v emcc >/dev/null || need+=(emscripten)
command -v chromium >/dev/null || need+=(chromium)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
[ -f /usr/include/hnswlib/hnswlib.h ] || need+=(libhnswlib-dev)
# ASan/UBSan runtime for clang builds.
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1 || need+=(libclang-rt-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` rather than `npm ci`: with this registry's lockfiles (no
  # `resolved` URLs) npm ci rejects the other platforms' optional packages.
  echo "setup: npm install"
  npm install --no-audit --no-fund --loglevel=error
fi

# Benchmark contenders live in their own package (bench/package.json). Their
# install scripts stay off (sharp, pulled in by client-vector-search, would
# download libvips); hnswlib-node is then compiled from source.
if [ ! -f bench/node_modules/.package-lock.json ] || [ bench/package.json -nt bench/node_modules/.package-lock.json ]; then
  echo "setup: npm install (bench contenders)"
  (cd bench && npm install --ignore-scripts --no-audit --no-fund --loglevel=error && npm rebuild hnswlib-node --loglevel=error)
fi

mkdir -p .cache/data/fashion-mnist
for f in train-images-idx3-ubyte t10k-images-idx3-ubyte; do
  if [ ! -s ".cache/data/fashion-mnist/$f" ]; then
    gzip -dc "/usr/share/datasets/fashion-mnist/$f.gz" > ".cache/data/fashion-mnist/$f.tmp"
    mv ".cache/data/fashion-mnist/$f.tmp" ".cache/data/fashion-mnist/$f"
  fi
done
