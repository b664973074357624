// The per-type panel kernels beside Q8_0/Q4_0's (Q4_K and Q6_K with Q8_K activations, F16 with
// float activations); AVX-512 only, called by panel_matmul, which documents the arguments.
#pragma once

#include <cstdint>

namespace tf::kernels {

void panel_matmul_q4_k(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                       int64_t out_stride);
void panel_matmul_q6_k(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                       int64_t out_stride);

void panel_matmul_f16(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                      int64_t out_stride);

}  // namespace tf::kernels
