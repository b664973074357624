// Dot products of one weight row with one activation row, for every weight type.
//
// Activations are first converted to the format the weight type pairs with (llama.cpp's
// vec_dot_type: Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants and
// IQ4_XS, F16/BF16/F32 for the float types) — the same rounding llama.cpp applies, so logits stay
// close to the reference.
//
// Accumulation order is part of the contract, identical for every ISA, so that every SIMD path
// returns bit-for-bit the scalar result and no result depends on how work is grouped:
//  * quantized types: each weight block b yields an exact integer sum, turned into one float r_b
//    by a fixed per-type formula (dot_blocks.h); r_b is added to lane b % 8 of eight partial sums;
//  * F32 and BF16: element i's product w_i*a_i (multiply, then add — never fused) is added to
//    lane i % 32 of 32 partial sums;
//  * F16: element i's product is fused into lane i % 8 of 8 partial sums (fmaf(w_i, a_i, p),
//    one rounding, as llama.cpp's F16 kernels do) — 8 lanes, so that a 16-rows-per-vector panel
//    kernel holds 3 tokens' partial sums in registers;
//  * the lanes are then reduced in the fixed tree of reduce_lanes8 / reduce_lanes32.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"
#include "util/tensor_type.h"

namespace tf::kernels {

using DotFn = float (*)(int64_t n, const void* w, const void* a);

// The activation format weights of this type are multiplied with.
TensorType activation_type(TensorType weight);
bool has_dot(TensorType weight);

// The kernel for this ISA; falls back to a lower ISA for types without a dedicated path there
// (still bit-identical, by the contract above). nullptr for unsupported types.
DotFn dot_kernel(TensorType weight, Isa isa);
// The ISA used by default for this weight type: best_isa(), except that the K-quants use AVX2 —
// measured faster on AMD Zen 4, which executes 512-bit integer multiplies at half rate (results
// are identical either way; Q2_K/Q3_K per-row AVX-512 7-14 % slower, bench/README.md). TF_ISA
// overrides.
Isa preferred_isa(TensorType weight);
inline DotFn dot_kernel(TensorType weight) { return dot_kernel(weight, preferred_isa(weight)); }

// Bytes of one converted activation row. For Q8_0 activations the row is the Q8_0 blocks followed
// by two per-block side arrays that every weight row would otherwise recompute: the block scales as
// float (exactly the fp16 value) and the exact int32 sums of the block's quants.
int64_t activation_row_bytes(TensorType weight, int64_t n);

// F16 activation rows: n half-precision values (padded to 64 bytes), then the same values as
// floats (what the panel kernel broadcasts).
inline int64_t f16_act_half_bytes(int64_t n) { return (2 * n + 63) / 64 * 64; }
inline const float* f16_act_floats(const void* a, int64_t n) {
    return reinterpret_cast<const float*>(static_cast<const uint8_t*>(a) + f16_act_half_bytes(n));
}

// Converts n activations to activation_type(weight) (n a multiple of that type's block size).
void quantize_activations(TensorType weight, const float* x, void* out, int64_t n);

// The side arrays of a Q8_0 activation row of n elements; they start at a 4-byte boundary after the
// blocks (the row itself must be 4-byte aligned, as any allocation is).
inline int64_t q8_0_act_blocks_bytes(int64_t n) { return (n / 32 * 34 + 3) / 4 * 4; }
inline const float* q8_0_act_scales(const void* a, int64_t n) {
    return reinterpret_cast<const float*>(static_cast<const uint8_t*>(a) + q8_0_act_blocks_bytes(n));
}
inline const int32_t* q8_0_act_sums(const void* a, int64_t n) {
    return reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(a) + q8_0_act_blocks_bytes(n) + n / 32 * 4);
}

namespace scalar {
DotFn dot_kernel(TensorType weight);
}
namespace avx2 {
DotFn dot_kernel(TensorType weight);  // nullptr where there is no AVX2 path
}
namespace avx512 {
DotFn dot_kernel(TensorType weight);
}

}  // namespace tf::kernels
