// Dot products in llama.cpp's own accumulation order on x86 (AVX2/AVX-512 CPUs), for the
// reference-compatible numerics: random-weight reference models have near-ties that only the
// same float operations in the same order reproduce.
//
// Each weight block still gives exact integer sums; what differs from dot.h is how they become
// floats (these orders were read off ggml-cpu's x86 kernels, and none of them depends on the
// batch size there):
//  * "lanes" (vec_dot and llamafile's tinyBLAS for Q8_0, Q5_0, Q4_1, Q5_1; Q4_0 and IQ4_NL
//    when the rows do not group by 8): each block yields 8 integer sums of 4 consecutive
//    products; lane l accumulates fma(d_w*d_a, sum_l, acc_l); the lanes reduce as reduce_lanes8;
//    Q4_1/Q5_1 add their m*s terms, summed one after another, at the end;
//  * "sequential" (the 8-row repacked GEMV/GEMM for Q4_0 and IQ4_NL): one accumulator,
//    acc = fma(isum_b, d_w*d_a, acc) block after block;
//  * the K-quants' vec_dot (Q3_K, Q5_K, Q6_K, IQ4_XS): 8 lanes of 4-byte columns of every
//    32-element group, scaled per sub-block (Q6_K's offset of 32 grouped by other sub-blocks);
//  * the repacked Q2_K / Q4_K: two fused chains (values, mins) — and here llama.cpp does depend
//    on the batch: its GEMM (the rows of a batch in fours) adds 128 / 64 elements at a time, its
//    GEMV (the rest, and single tokens) whole super-blocks;
//  * F32 and F16: llamafile's tinyBLAS for batches of 2 or more (16 fused lanes), ggml's vec_dot
//    for single rows (four 16-lane chains per 64 elements) — batch-dependent too.
// Types without an order here use dot.h's.
#pragma once

#include <cstdint>

#include "kernels/dot.h"
#include "util/tensor_type.h"

namespace tf::kernels {

struct LlamaCppKernels {
    // Which rows of a batch of n take `gemm`: InFours, the first n - n % 4 when n > 3 (ggml's
    // repacked kernels); AllFromTwo, all of them when n >= 2 (llamafile's sgemm). `gemv` the rest.
    enum class Split { InFours, AllFromTwo };
    DotFn gemv = nullptr;
    DotFn gemm = nullptr;
    Split split = Split::InFours;
    int64_t gemm_rows(int64_t n) const {
        if (split == Split::AllFromTwo) return n >= 2 ? n : 0;
        return n > 3 ? n - n % 4 : 0;
    }
};
// The llama.cpp-order kernels for weights of this type in a matrix of n_rows rows, or nulls.
LlamaCppKernels llama_cpp_kernels(TensorType weight, int64_t n_rows);

}  // namespace tf::kernels
