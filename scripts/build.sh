#!/usr/bin/env bash
# Configures and builds one flavour into build/<flavour>: release (default), asan, fuzz, bench.
# Usage: scripts/build.sh [FLAVOUR] [TARGET...] — every target by default; `release terraferma`
# builds the program alone (what scripts/demo.sh runs), sharing its objects with the full build.
# Incremental: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
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
if ((${#targets[@]})); then
    cmake --build "build/$flavour" -j "$jobs" --target "${targets[@]}"
else
    cmake --build "build/$flavour" -j "$jobs"
fi
