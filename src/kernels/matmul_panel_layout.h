// Byte layout of one panel block (16 interleaved weight rows) per weight type, shared by the
// packing code and the kernels. Lane r of every 64-byte vector belongs to row r; a vector holds,
// per row, 4 consecutive bytes.
//
// Q8_0 (32 columns): 8 vectors, byte 4r+k of vector g = element 4g+k of row r, stored as q ^ 0x80;
//   then the 16 rows' fp16 scales.
// Q4_0 (32 columns): 4 vectors, byte 4r+k of vector g = packed byte 4g+k (low nibble element
//   4g+k, high nibble element 16+4g+k); then the scales.
// Q4_K (256 columns, 8 units of 32): the 6-bit scales as bytes (16 per unit: [unit][row]); the
//   6-bit mins as bytes ([unit pair][row][unit parity], so that widening 32 bytes gives each
//   row's pair of mins as two int16); 32 vectors, vector 8i+g byte 4r+k = qs[32i+4g+k] (low
//   nibble: unit 2i, element 4g+k; high nibble: unit 2i+1); fp16 d and dmin of each row.
//   4 bytes per row more than the GGUF block (2.8 %), so that no kernel unpacks 6-bit fields.
// Q6_K (256 columns): the int8 scales of the 16 sub-blocks of 16 ([sub-block][row]); the low 4
//   bits of the 6-bit values in 32 vectors like Q4_K's (low group i: units 2i, 2i+1); the high
//   2 bits in 16 vectors, high group h vector g byte 4r+k bits 2s..2s+1 = unit 4h+s element
//   4g+k; fp16 d. Exactly the GGUF bytes.
#pragma once

#include <cstdint>

namespace tf::kernels::panel_layout {

inline constexpr int64_t kQ8_0Bytes = 8 * 64 + 32;
inline constexpr int64_t kQ4_0Bytes = 4 * 64 + 32;

// Everything in the order the kernels read it: a matrix-vector product streams the panel
// front to back (measured: with the vectors out of reading order, the hardware prefetcher falls
// behind and Q6_K matrix-vector products streamed 8 instead of 15 GB/s).
inline constexpr int64_t kQ4kScales = 0;
inline constexpr int64_t kQ4kMins = kQ4kScales + 8 * 16;
inline constexpr int64_t kQ4kQuants = kQ4kMins + 8 * 16;
inline constexpr int64_t kQ4kD = kQ4kQuants + 32 * 64;
inline constexpr int64_t kQ4kDmin = kQ4kD + 32;
inline constexpr int64_t kQ4kBytes = kQ4kDmin + 32;
// Vector g of quant group i (0..3): 8i + g.
inline constexpr int64_t q4k_quant(int i, int g) { return kQ4kQuants + (8 * i + g) * 64; }

// Q6_K: scales, then high-bit group 0 (units 0..3), low groups 0 and 1 (units 0..3), high group 1,
// low groups 2 and 3, then d.
inline constexpr int64_t kQ6kScales = 0;
inline constexpr int64_t kQ6kD = kQ6kScales + 16 * 16 + 48 * 64;
inline constexpr int64_t kQ6kBytes = kQ6kD + 32;
inline constexpr int64_t q6k_low(int i, int g) { return kQ6kScales + 256 + (i / 2) * 1536 + 512 + (i % 2) * 512 + g * 64; }
inline constexpr int64_t q6k_high(int h, int g) { return kQ6kScales + 256 + h * 1536 + g * 64; }

static_assert(kQ4kBytes == 16 * 148 && kQ6kBytes == 16 * 210);

}  // namespace tf::kernels::panel_layout
