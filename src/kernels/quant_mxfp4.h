// MXFP4 (32-element blocks, one E8M0 exponent each): llama.cpp's quantizer (the exponent from the
// block's largest magnitude, each value to the nearest FP4 level) and its inverse.
#pragma once

#include <cstdint>

#include "kernels/blocks.h"

namespace tf::kernels {

void quantize_row_mxfp4(const float* x, BlockMXFP4* y, int64_t k);
void dequantize_row_mxfp4(const BlockMXFP4* x, float* y, int64_t k);

}  // namespace tf::kernels
