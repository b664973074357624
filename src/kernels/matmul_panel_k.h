// The K-quant panel kernels (Q4_K, Q6_K with Q8_K activations); AVX-512 VNNI only, called by
// panel_matmul, which documents the arguments.
#pragma once

#include <cstdint>

namespace tf::kernels {

void panel_matmul_q4_k(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                       int64_t out_stride);
void panel_matmul_q6_k(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                       int64_t out_stride);

}  // namespace tf::kernels
