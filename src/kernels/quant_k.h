// The K-quant super-block formats (256 elements): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, and Q8_K for
// activations. Quantizers follow llama.cpp's reference scale searches.
#pragma once

#include <cstdint>

#include "kernels/blocks.h"

namespace tf::kernels {

void quantize_row_q2_k(const float* x, BlockQ2_K* y, int64_t k);
void quantize_row_q3_k(const float* x, BlockQ3_K* y, int64_t k);
void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t k);
void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t k);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t k);
void quantize_row_q8_k(const float* x, BlockQ8_K* y, int64_t k);

void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t k);
void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t k);
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t k);
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t k);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t k);
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t k);

// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

// The 16 signed 6-bit scales of a Q3_K super-block (packed in 12 bytes), unbiased (-32..31).
void unpack_q3_k_scales(const uint8_t* packed, int8_t* scales);

}  // namespace tf::kernels
