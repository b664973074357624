// Activation rows quantized for the dot kernels with AVX-512: the same bits as
// quantize_row_q8_0 / quantize_row_q8_k (tests compare them), several times faster — on a
// prompt every matrix product starts by quantizing its input rows.
#pragma once

#include <cstdint>

#include "kernels/blocks.h"

namespace tf::kernels::avx512 {

// Also, when not null, each block's scale as a float (d_out) and the sum of its values (sums):
// the extras of the Q8_0 activation layout (dot.h).
void quantize_act_q8_0(const float* x, BlockQ8_0* y, float* d_out, int32_t* sums, int64_t n);
void quantize_act_q8_k(const float* x, BlockQ8_K* y, int64_t n);

}  // namespace tf::kernels::avx512
