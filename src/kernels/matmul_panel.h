// Matrix products for the weight types paired with Q8_0 activations (Q8_0, Q4_0) on AVX-512
// VNNI: 16 weight rows are interleaved into a "panel" in which lane j of every vector belongs
// to row j, so that dpbusd yields 16 rows' exact block sums at once with no horizontal
// reduction. Per block and token the float work is dot()'s own — r_b = float(isum_b) *
// (d_w*d_a) added to partial sum b % 8, then the reduce_lanes8 tree — done lane-wise, so every
// output is bit-identical to dot() (tested).
//
// A panel holds, per block of 32 columns: the quants as 64-byte vectors (Q8_0: 8 vectors, byte
// 4j..4j+3 of vector g = elements 4g..4g+3 of row j, stored as q + 128; Q4_0: 4 vectors, byte
// 4j..4j+3 of vector g = packed bytes 4g..4g+3 of row j, whose low nibbles are elements
// 4g..4g+3 and high nibbles elements 16+4g..16+4g+3), then the 16 rows' half-precision scales.
// The same bytes per row as the GGUF blocks, so a model repacked at load costs no extra memory.
#pragma once

#include <cstdint>

#include "util/tensor_type.h"

namespace tf::kernels {

inline constexpr int kPanelRows = 16;

// True when a panel kernel exists for this weight type on this CPU (and the ISA is not forced
// below AVX-512).
bool has_panel_kernel(TensorType weight);

// Bytes of one panel for rows of n elements (n a multiple of 32).
int64_t panel_bytes(TensorType weight, int64_t n);
// Bytes of the panels of a whole matrix (the last one padded with zero rows).
inline int64_t matrix_panel_bytes(TensorType weight, int64_t n_rows, int64_t n) {
    return (n_rows + kPanelRows - 1) / kPanelRows * panel_bytes(weight, n);
}

// Repacks rows [0, n_rows) (n_rows <= 16; missing rows become zeros) of `w` (row stride
// `row_bytes`) into `panel`.
void pack_panel(TensorType weight, const uint8_t* w, int64_t row_bytes, int n_rows, int64_t n, uint8_t* panel);

// out[t * out_stride + j] = dot(row j, activation row t) for j < n_rows and t < n_tokens; the
// activation rows come from quantize_activations (stride a_stride bytes).
void panel_matmul(TensorType weight, const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens,
                  float* out, int64_t out_stride);

}  // namespace tf::kernels
