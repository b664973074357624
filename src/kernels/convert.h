// Type-generic conversion of rows between F32 and every weight type the kernels support.
#pragma once

#include <cstdint>

#include "util/tensor_type.h"

namespace tf::kernels {

bool can_dequantize(TensorType type);
bool can_quantize(TensorType type);

// n must be a multiple of the type's block size (callers check with tensor_row_bytes).
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Quantizes n floats. imatrix (per-column importance, n values) is reserved for importance-
// weighted quantization; nullptr gives llama.cpp's plain reference quantization.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n, const float* imatrix = nullptr);

}  // namespace tf::kernels
