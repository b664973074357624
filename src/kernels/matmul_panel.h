// Prompt-sized matrix products for the weight types paired with Q8_0 activations (Q8_0, Q4_0):
// 16 weight rows are repacked into a small panel in which lane j of every vector belongs to row
// j, so that AVX-512 VNNI's dpbusd yields 16 rows' exact block sums at once with no horizontal
// reduction, and the panel is reused for every token of the batch. Per block and token the
// float work is dot()'s own — r_b = float(isum_b) * (d_w*d_a) added to partial sum b % 8, then
// the reduce_lanes8 tree — done lane-wise, so every output is bit-identical to dot() (tested).
#pragma once

#include <cstdint>

#include "util/tensor_type.h"

namespace tf::kernels {

inline constexpr int kPanelRows = 16;

// True when a panel kernel exists for this weight type on this CPU.
bool has_panel_kernel(TensorType weight);

// Bytes of one panel for rows of n elements.
int64_t panel_bytes(TensorType weight, int64_t n);

// Repacks rows [0, n_rows) (n_rows <= 16; missing rows become zeros) of `w` (row stride
// `row_bytes`) into `panel`.
void pack_panel(TensorType weight, const uint8_t* w, int64_t row_bytes, int n_rows, int64_t n, uint8_t* panel);

// out[t * out_stride + j] = dot(row j, activation row t) for j < n_rows and t < n_tokens; the
// activation rows come from quantize_activations (stride a_stride bytes).
void panel_matmul(TensorType weight, const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens,
                  float* out, int64_t out_stride);

}  // namespace tf::kernels
