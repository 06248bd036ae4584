#!/usr/bin/env bash
# Native benchmark (figures, not tests): tabvec vs hnswlib on Fashion-MNIST 60k,
# SAP MiniLM and synthetic 100k x 128. Pass --quick for a shorter run.
set -euo pipefail
cd "$(dirname "$0")/.."
build/native/bench/tabvec_bench "$@"
