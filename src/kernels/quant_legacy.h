// The 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1. Quantizers are llama.cpp's
// reference ones (round-to-nearest with a fixed scale), so files are byte-identical.
#pragma once

#include <cstdint>

#include "kernels/blocks.h"

namespace tf::kernels {

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t k);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t k);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t k);
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k);
// Activation rows, as ggml-cpu quantizes them on x86 before a product: id = 127/amax rather than
// 1/d, rounding half to even. Its reference quantizer above (model files) rounds half away from
// zero, and the two differ in rare last bits — which the reference logits see.
void quantize_act_row_q8_0(const float* x, BlockQ8_0* y, int64_t k);
void quantize_act_row_q8_1(const float* x, BlockQ8_1* y, int64_t k);
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t k);

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t k);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t k);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t k);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t k);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t k);

}  // namespace tf::kernels
