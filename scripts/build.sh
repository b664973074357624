#!/usr/bin/env bash
# Configures and builds one flavour into build/<flavour>: release (default), asan, fuzz.
# Incremental: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=${TF_JOBS:-$(nproc)}
case "$flavour" in
    release) args=(-DCMAKE_BUILD_TYPE=Release -DTF_WERROR=ON -DTF_BUILD_BENCH=ON) ;;
    asan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_SANITIZE=ON -DTF_WERROR=ON) ;;
    fuzz)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
    bench)   args=(-DCMAKE_BUILD_TYPE=Release -DTF_BUILD_BENCH=ON -DTF_BUILD_TESTS=OFF) ;;
    *) echo "build.sh: unknown flavour '$flavour' (release, asan, fuzz, bench)" >&2; exit 2 ;;
esac
if [[ ! -f "build/$flavour/build.ninja" ]]; then
    cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
fi
cmake --build "build/$flavour" -j "$jobs"
