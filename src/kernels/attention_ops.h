// The inner products of attention over a half-precision KV cache. Fixed accumulation order,
// identical on every ISA (the scalar loop is the specification): in dot_f16_f32, product i
// (multiply, then add — never fused) goes to lane i % 16 of 16 partial sums, lanes l and l + 8
// are added, then the reduce_lanes8 tree. So a score never depends on the CPU, the thread or
// what else is in the batch.
#pragma once

#include <cstdint>

namespace tf::kernels {

float dot_f16_f32(const uint16_t* k, const float* q, int64_t n);

// o[i] += p * v[i] (multiply, then add), v in half precision.
void axpy_f16(float p, const uint16_t* v, float* o, int64_t n);
// The same over Q8_0 blocks (n a multiple of 32): v[i] = d * q[i] (rounded once), then as above.
// Keys in a Q8_0 cache need no kernel of their own: they are Q8_0 weight rows (dot.h).
void axpy_q8_0(float p, const void* v, float* o, int64_t n);

// Many keys or values at once (the rows of one head over a range of positions; each rows[j] + offset
// points at n halves). Bit-identical to the one-row functions above, faster because a block of 16
// keys is reduced together and the weighted sum stays in registers.
// scores[j] = dot_f16_f32(rows[j] + offset, q, n):
void dot_f16_f32_rows(const uint8_t* const* rows, int64_t offset, int64_t n_rows, const float* q, int64_t n, float* scores);
// o[i] = 0, then o[i] += p[j] * v_j[i] for j = 0 .. n_rows-1 in order (as axpy_f16 row by row):
void weighted_sum_f16_rows(const float* p, const uint8_t* const* rows, int64_t offset, int64_t n_rows, float* o, int64_t n);

namespace scalar {
void dot_f16_f32_rows(const uint8_t* const* rows, int64_t offset, int64_t n_rows, const float* q, int64_t n, float* scores);
void weighted_sum_f16_rows(const float* p, const uint8_t* const* rows, int64_t offset, int64_t n_rows, float* o, int64_t n);
float dot_f16_f32(const uint16_t* k, const float* q, int64_t n);
void axpy_f16(float p, const uint16_t* v, float* o, int64_t n);
void axpy_q8_0(float p, const void* v, float* o, int64_t n);
}  // namespace scalar

}  // namespace tf::kernels
