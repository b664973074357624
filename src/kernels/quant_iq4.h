// IQ4_NL (32-element blocks) and IQ4_XS (256-element super-blocks): 4-bit codes into a fixed
// non-linear table, quantized with llama.cpp's weighted scale search.
#pragma once

#include <cstdint>

#include "kernels/blocks.h"

namespace tf::kernels {

void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t k);
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t k);
void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t k);
void dequantize_row_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t k);

}  // namespace tf::kernels
