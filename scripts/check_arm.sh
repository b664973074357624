#!/usr/bin/env bash
# Builds the kernels and their unit tests for 64-bit ARM with the cross compiler and runs them
# under QEMU's user-mode emulation: every weight type must work on the scalar path of a CPU
# without x86 SIMD (no NEON kernels yet). Not part of scripts/test.sh (the cross toolchain is a
# large install); run it by hand after touching kernels/.
#   scripts/check_arm.sh    (installs g++-aarch64-linux-gnu and qemu-user-static when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64-static >/dev/null; then
    apt-get install -y -q g++-aarch64-linux-gnu qemu-user-static >/dev/null
fi
out=build/arm64
mkdir -p "$out/obj"
cxx=(aarch64-linux-gnu-g++ -std=c++20 -O2 -Wall -Wextra -Werror -Wno-missing-field-initializers -Isrc -Itests
     -I/usr/src/googletest/googletest/include -I/usr/src/googletest/googletest)
sources=(src/kernels/*.cpp src/util/tensor_type.cpp src/util/thread_pool.cpp src/util/mask_logits.cpp
         tests/kernels/dot_test.cpp tests/kernels/matmul_test.cpp tests/kernels/attention_ops_test.cpp tests/util/mask_logits_test.cpp
         /usr/src/googletest/googletest/src/gtest-all.cc /usr/src/googletest/googletest/src/gtest_main.cc)
objs=()
for s in "${sources[@]}"; do
    o="$out/obj/$(echo "$s" | tr '/.' '__').o"
    if [[ ! -f $o || $s -nt $o ]]; then
        "${cxx[@]}" -DTF_SHARED_DIR=\"\" -DTF_SOURCE_DIR=\"$PWD\" -DTF_BINARY=\"\" -c "$s" -o "$o" &
        while (( $(jobs -r | wc -l) >= $(nproc) )); do wait -n; done
    fi
    objs+=("$o")
done
wait
aarch64-linux-gnu-g++ -static -pthread "${objs[@]}" -o "$out/kernels_tests"
file "$out/kernels_tests" | cut -d, -f1-2
qemu-aarch64-static "$out/kernels_tests"
