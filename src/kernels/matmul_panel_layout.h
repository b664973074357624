// Byte layout of one panel block (16 interleaved weight rows) per weight type, shared by the
// packing code and the kernels. Lane r of every 64-byte vector belongs to row r; a vector holds,
// per row, 4 consecutive bytes.
//
// Q8_0 (32 columns): 8 vectors, byte 4r+k of vector g = element 4g+k of row r, stored as q ^ 0x80;
//   and the 16 rows' fp16 scales (placed by legacy_block).
// Q4_0 (32 columns): 4 vectors, byte 4r+k of vector g = packed byte 4g+k (low nibble element
//   4g+k, high nibble element 16+4g+k); then the scales.
// Q4_K (256 columns, 8 units of 32): the 6-bit scales as bytes (16 per unit: [unit][row]); the
//   6-bit mins as bytes ([unit pair][row][unit parity], so that widening 32 bytes gives each
//   row's pair of mins as two int16); 32 vectors, vector 8i+g byte 4r+k = qs[32i+4g+k] (low
//   nibble: unit 2i, element 4g+k; high nibble: unit 2i+1); fp16 d and dmin of each row.
//   4 bytes per row more than the GGUF block (2.8 %), so that no kernel unpacks 6-bit fields.
// Q6_K (256 columns): the int8 scales of the 16 sub-blocks of 16 ([sub-block][row]); then per
//   quad of units h (units 4h..4h+3) and group g three vectors A, B, C whose byte 4r+k holds
//   element 4g+k of row r: A = q0 | (q3 & 3) << 6, B = q1 | (q3 >> 2 & 3) << 6,
//   C = q2 | (q3 >> 4) << 6 (q0..q3: the 6-bit values of the quad's units) — three values one
//   `and` away, the fourth reassembled; then fp16 d. Exactly the GGUF bytes.
#pragma once

#include <cstdint>

namespace tf::kernels::panel_layout {

// F16: element-major, element i's 16 rows in 32 bytes (one 256-bit load widened to 16 floats).
inline constexpr int64_t kF16ElementBytes = 2 * 16;

inline constexpr int64_t kQ8_0Bytes = 8 * 64 + 32;
inline constexpr int64_t kQ4_0Bytes = 4 * 64 + 32;

// Q8_0/Q4_0 blocks go in pairs — both scale rows (one cache line), then both blocks' vectors —
// so that every vector starts a cache line (blocks of 8.5 or 4.5 lines split every other
// block's loads across lines) and the kernel still reads front to back. A lone last block of an
// odd count: scales, then vectors.
struct LegacyBlock {
    int64_t vectors, scales;
};
inline constexpr LegacyBlock legacy_block(int64_t b, int64_t nb, int64_t vec_bytes) {
    const int64_t base = b / 2 * 2 * (vec_bytes + 32);
    if (b % 2 == 0 && b + 1 == nb) return {base + 32, base};
    return {base + 64 + (b % 2) * vec_bytes, base + (b % 2) * 32};
}

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

inline constexpr int64_t kQ6kScales = 0;
inline constexpr int64_t kQ6kD = kQ6kScales + 16 * 16 + 48 * 64;
inline constexpr int64_t kQ6kBytes = kQ6kD + 32;
// Vector v (0: A, 1: B, 2: C) of quad h, group g.
inline constexpr int64_t q6k_vec(int h, int g, int v) { return kQ6kScales + 256 + ((h * 8 + g) * 3 + v) * 64; }

static_assert(kQ4kBytes == 16 * 148 && kQ6kBytes == 16 * 210);

}  // namespace tf::kernels::panel_layout
