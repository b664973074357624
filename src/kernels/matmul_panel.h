// Matrix products on AVX-512 VNNI with 16 weight rows interleaved into a "panel": lane j of
// every vector belongs to row j, so that dpbusd yields 16 rows' exact integer sums at once with
// no horizontal reduction. Per block and token the float work is dot()'s own (dot_blocks.h),
// done lane-wise, so every output is bit-identical to dot() (tested). Weight types: Q8_0 and
// Q4_0 (with Q8_0 activations), Q4_K and Q6_K (with Q8_K activations); byte layouts in
// matmul_panel_layout.h — the GGUF bytes rearranged (Q4_K: +2.8 %), so a model repacked at load
// costs about no extra memory.
#pragma once

#include <cstdint>

#include "util/tensor_type.h"

namespace tf::kernels {

inline constexpr int kPanelRows = 16;

// True when a panel kernel exists for this weight type on this CPU (and the ISA is not forced
// below AVX-512).
bool has_panel_kernel(TensorType weight);
// The weight type has a panel layout (on any CPU), and rows of n elements fill whole blocks.
bool panel_type(TensorType weight);
bool panel_fits(TensorType weight, int64_t n);

// Bytes of one panel for rows of n elements (panel_fits).
int64_t panel_bytes(TensorType weight, int64_t n);
// Bytes of the panels of a whole matrix (the last one padded with zero rows).
inline int64_t matrix_panel_bytes(TensorType weight, int64_t n_rows, int64_t n) {
    return (n_rows + kPanelRows - 1) / kPanelRows * panel_bytes(weight, n);
}

// Repacks rows [0, n_rows) (n_rows <= 16; missing rows become zeros) of `w` (row stride
// `row_bytes`) into `panel`.
void pack_panel(TensorType weight, const uint8_t* w, int64_t row_bytes, int n_rows, int64_t n, uint8_t* panel);

// Restores the GGUF bytes of row r (< 16) of a panel.
void unpack_panel_row(TensorType weight, const uint8_t* panel, int r, int64_t n, uint8_t* row);

// out[t * out_stride + j] = dot(row j, activation row t) for j < n_rows and t < n_tokens; the
// activation rows come from quantize_activations (stride a_stride bytes).
void panel_matmul(TensorType weight, const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens,
                  float* out, int64_t out_stride);

}  // namespace tf::kernels
