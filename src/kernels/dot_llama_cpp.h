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
//    acc = fma(isum_b, d_w*d_a, acc) block after block.
// Types without an order here use dot.h's.
#pragma once

#include <cstdint>

#include "kernels/dot.h"
#include "util/tensor_type.h"

namespace tf::kernels {

// The llama.cpp-order kernel for weights of this type in a matrix of n_rows rows, or nullptr.
DotFn llama_cpp_dot_kernel(TensorType weight, int64_t n_rows);

}  // namespace tf::kernels
