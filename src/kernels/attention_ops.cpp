#include "kernels/attention_ops.h"

#include "kernels/blocks.h"
#include "kernels/cpu_features.h"
#include "kernels/dot_blocks.h"
#include "util/half.h"

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12 reports its own intrinsic headers (undefined upper halves) as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace tf::kernels {

namespace scalar {

float dot_f16_f32(const uint16_t* k, const float* q, int64_t n) {
    float p[16] = {};
    for (int64_t i = 0; i < n; ++i) p[i % 16] += fp16_to_fp32(k[i]) * q[i];
    float r[8];
    for (int l = 0; l < 8; ++l) r[l] = p[l] + p[l + 8];
    return reduce_lanes8(r);
}

void axpy_f16(float p, const uint16_t* v, float* o, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] += p * fp16_to_fp32(v[i]);
}

void axpy_q8_0(float p, const void* v, float* o, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(v);
    for (int64_t i = 0; i < n; ++i) {
        const BlockQ8_0& blk = b[i / 32];
        const float x = fp16_to_fp32(blk.d) * static_cast<float>(blk.qs[i % 32]);
        o[i] += p * x;
    }
}

void dot_f16_f32_rows(const uint8_t* const* rows, int64_t offset, int64_t n_rows, const float* q, int64_t n, float* scores) {
    for (int64_t j = 0; j < n_rows; ++j) scores[j] = dot_f16_f32(reinterpret_cast<const uint16_t*>(rows[j] + offset), q, n);
}

void weighted_sum_f16_rows(const float* p, const uint8_t* const* rows, int64_t offset, int64_t n_rows, float* o, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = 0.0f;
    for (int64_t j = 0; j < n_rows; ++j) axpy_f16(p[j], reinterpret_cast<const uint16_t*>(rows[j] + offset), o, n);
}

}  // namespace scalar

#if defined(__x86_64__)

namespace {

__attribute__((target("avx512f,f16c"))) float dot_f16_f32_avx512(const uint16_t* k, const float* q, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 kv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + i)));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(kv, _mm512_loadu_ps(q + i)));
    }
    alignas(64) float p[16];
    _mm512_store_ps(p, acc);
    for (; i < n; ++i) p[i % 16] += fp16_to_fp32(k[i]) * q[i];
    float r[8];
    for (int l = 0; l < 8; ++l) r[l] = p[l] + p[l + 8];
    return reduce_lanes8(r);
}

__attribute__((target("avx512f,f16c"))) void axpy_f16_avx512(float p, const uint16_t* v, float* o, int64_t n) {
    const __m512 pv = _mm512_set1_ps(p);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 vv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)));
        _mm512_storeu_ps(o + i, _mm512_add_ps(_mm512_loadu_ps(o + i), _mm512_mul_ps(pv, vv)));
    }
    for (; i < n; ++i) o[i] += p * fp16_to_fp32(v[i]);
}

__attribute__((target("avx512f,f16c"))) void axpy_q8_0_avx512(float p, const void* v, float* o, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(v);
    const __m512 pv = _mm512_set1_ps(p);
    for (int64_t blk = 0; blk < n / 32; ++blk) {
        const __m512 d = _mm512_set1_ps(fp16_to_fp32(b[blk].d));
        for (int h = 0; h < 2; ++h) {
            const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[blk].qs + 16 * h));
            const __m512 x = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
            float* oo = o + 32 * blk + 16 * h;
            _mm512_storeu_ps(oo, _mm512_add_ps(_mm512_loadu_ps(oo), _mm512_mul_ps(pv, x)));
        }
    }
}

__attribute__((target("avx2,f16c"))) void axpy_q8_0_avx2(float p, const void* v, float* o, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(v);
    const __m256 pv = _mm256_set1_ps(p);
    for (int64_t blk = 0; blk < n / 32; ++blk) {
        const __m256 d = _mm256_set1_ps(fp16_to_fp32(b[blk].d));
        for (int h = 0; h < 4; ++h) {
            const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[blk].qs + 8 * h));
            const __m256 x = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
            float* oo = o + 32 * blk + 8 * h;
            _mm256_storeu_ps(oo, _mm256_add_ps(_mm256_loadu_ps(oo), _mm256_mul_ps(pv, x)));
        }
    }
}

__attribute__((target("avx2,f16c"))) float dot_f16_f32_avx2(const uint16_t* k, const float* q, int64_t n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();  // lanes 0-7 and 8-15
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i))), _mm256_loadu_ps(q + i)));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i + 8))), _mm256_loadu_ps(q + i + 8)));
    }
    alignas(32) float p[16];
    _mm256_store_ps(p, lo);
    _mm256_store_ps(p + 8, hi);
    for (; i < n; ++i) p[i % 16] += fp16_to_fp32(k[i]) * q[i];
    float r[8];
    for (int l = 0; l < 8; ++l) r[l] = p[l] + p[l + 8];
    return reduce_lanes8(r);
}

__attribute__((target("avx2,f16c"))) void axpy_f16_avx2(float p, const uint16_t* v, float* o, int64_t n) {
    const __m256 pv = _mm256_set1_ps(p);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        _mm256_storeu_ps(o + i, _mm256_add_ps(_mm256_loadu_ps(o + i), _mm256_mul_ps(pv, vv)));
    }
    for (; i < n; ++i) o[i] += p * fp16_to_fp32(v[i]);
}

// 16 keys' 16-lane sums reduced together: the folds of the one-key reduction (lane l + lane l+8,
// then reduce_lanes8's l + 4, l + 2, l + 1) done on pairs of vectors, so every sum is added in the
// same order as dot_f16_f32 adds it. Returns the 16 scores in key order.
__attribute__((target("avx512f"))) inline __m512 reduce16_keys(__m512* a) {
    __m512 c[8], d[4], e[2];
    for (int m = 0; m < 8; ++m) {
        c[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x44), _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xEE));
    }
    for (int m = 0; m < 4; ++m) {
        d[m] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * m], c[2 * m + 1], 0x88), _mm512_shuffle_f32x4(c[2 * m], c[2 * m + 1], 0xDD));
    }
    for (int m = 0; m < 2; ++m) {
        e[m] = _mm512_add_ps(_mm512_shuffle_ps(d[2 * m], d[2 * m + 1], 0x44), _mm512_shuffle_ps(d[2 * m], d[2 * m + 1], 0xEE));
    }
    const __m512 f = _mm512_add_ps(_mm512_shuffle_ps(e[0], e[1], 0x88), _mm512_shuffle_ps(e[0], e[1], 0xDD));
    // Lane 4i + c of f holds key 4c + i.
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, f);
}

__attribute__((target("avx512f,f16c"))) void dot_f16_f32_rows_avx512(const uint8_t* const* rows, int64_t offset, int64_t n_rows, const float* q,
                                                                      int64_t n, float* scores) {
    int64_t j = 0;
    if (n % 16 == 0) {
        for (; j + 16 <= n_rows; j += 16) {
            __m512 acc[16];
            for (int k = 0; k < 16; ++k) acc[k] = _mm512_setzero_ps();
            for (int64_t i = 0; i < n; i += 16) {
                const __m512 qv = _mm512_loadu_ps(q + i);
                for (int k = 0; k < 16; ++k) {
                    const auto* kr = reinterpret_cast<const __m256i*>(rows[j + k] + offset + 2 * i);
                    acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256(kr)), qv));
                }
            }
            _mm512_storeu_ps(scores + j, reduce16_keys(acc));
        }
    }
    for (; j < n_rows; ++j) scores[j] = dot_f16_f32_avx512(reinterpret_cast<const uint16_t*>(rows[j] + offset), q, n);
}

__attribute__((target("avx512f,f16c"))) void weighted_sum_f16_rows_avx512(const float* p, const uint8_t* const* rows, int64_t offset, int64_t n_rows,
                                                                           float* o, int64_t n) {
    constexpr int64_t kChunk = 128;  // 8 vectors of the sum held in registers over all rows
    int64_t i0 = 0;
    for (; i0 + kChunk <= n; i0 += kChunk) {
        __m512 acc[8];
        for (int c = 0; c < 8; ++c) acc[c] = _mm512_setzero_ps();
        for (int64_t j = 0; j < n_rows; ++j) {
            const __m512 pv = _mm512_set1_ps(p[j]);
            const auto* v = reinterpret_cast<const uint16_t*>(rows[j] + offset) + i0;
            for (int c = 0; c < 8; ++c) {
                const __m512 vv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 16 * c)));
                acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(pv, vv));
            }
        }
        for (int c = 0; c < 8; ++c) _mm512_storeu_ps(o + i0 + 16 * c, acc[c]);
    }
    if (i0 + 16 <= n) {
        const int vecs = static_cast<int>((n - i0) / 16);  // < 8
        __m512 acc[8];
        for (int c = 0; c < vecs; ++c) acc[c] = _mm512_setzero_ps();
        for (int64_t j = 0; j < n_rows; ++j) {
            const __m512 pv = _mm512_set1_ps(p[j]);
            const auto* v = reinterpret_cast<const uint16_t*>(rows[j] + offset) + i0;
            for (int c = 0; c < vecs; ++c) {
                const __m512 vv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 16 * c)));
                acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(pv, vv));
            }
        }
        for (int c = 0; c < vecs; ++c) _mm512_storeu_ps(o + i0 + 16 * c, acc[c]);
        i0 += 16 * vecs;
    }
    for (int64_t i = i0; i < n; ++i) {
        float acc = 0.0f;
        for (int64_t j = 0; j < n_rows; ++j) acc += p[j] * fp16_to_fp32(reinterpret_cast<const uint16_t*>(rows[j] + offset)[i]);
        o[i] = acc;
    }
}

using DotFn16 = float (*)(const uint16_t*, const float*, int64_t);
using AxpyFnQ8 = void (*)(float, const void*, float*, int64_t);

AxpyFnQ8 pick_axpy_q8() {
    switch (best_isa()) {
        case Isa::Avx512: return axpy_q8_0_avx512;
        case Isa::Avx2: return axpy_q8_0_avx2;
        default: return scalar::axpy_q8_0;
    }
}
using AxpyFn16 = void (*)(float, const uint16_t*, float*, int64_t);

DotFn16 pick_dot() {
    switch (best_isa()) {
        case Isa::Avx512: return dot_f16_f32_avx512;
        case Isa::Avx2: return dot_f16_f32_avx2;
        default: return scalar::dot_f16_f32;
    }
}

AxpyFn16 pick_axpy() {
    switch (best_isa()) {
        case Isa::Avx512: return axpy_f16_avx512;
        case Isa::Avx2: return axpy_f16_avx2;
        default: return scalar::axpy_f16;
    }
}

}  // namespace

float dot_f16_f32(const uint16_t* k, const float* q, int64_t n) {
    static const DotFn16 f = pick_dot();
    return f(k, q, n);
}

void axpy_f16(float p, const uint16_t* v, float* o, int64_t n) {
    static const AxpyFn16 f = pick_axpy();
    f(p, v, o, n);
}

void axpy_q8_0(float p, const void* v, float* o, int64_t n) {
    static const AxpyFnQ8 f = pick_axpy_q8();
    f(p, v, o, n);
}

void dot_f16_f32_rows(const uint8_t* const* rows, int64_t offset, int64_t n_rows, const float* q, int64_t n, float* scores) {
    static const bool avx512 = best_isa() == Isa::Avx512;
    if (avx512) dot_f16_f32_rows_avx512(rows, offset, n_rows, q, n, scores);
    else scalar::dot_f16_f32_rows(rows, offset, n_rows, q, n, scores);
}

void weighted_sum_f16_rows(const float* p, const uint8_t* const* rows, int64_t offset, int64_t n_rows, float* o, int64_t n) {
    static const bool avx512 = best_isa() == Isa::Avx512;
    if (avx512) weighted_sum_f16_rows_avx512(p, rows, offset, n_rows, o, n);
    else scalar::weighted_sum_f16_rows(p, rows, offset, n_rows, o, n);
}

#else

float dot_f16_f32(const uint16_t* k, const float* q, int64_t n) { return scalar::dot_f16_f32(k, q, n); }
void axpy_f16(float p, const uint16_t* v, float* o, int64_t n) { scalar::axpy_f16(p, v, o, n); }
void axpy_q8_0(float p, const void* v, float* o, int64_t n) { scalar::axpy_q8_0(p, v, o, n); }
void dot_f16_f32_rows(const uint8_t* const* rows, int64_t offset, int64_t n_rows, const float* q, int64_t n, float* scores) {
    scalar::dot_f16_f32_rows(rows, offset, n_rows, q, n, scores);
}
void weighted_sum_f16_rows(const float* p, const uint8_t* const* rows, int64_t offset, int64_t n_rows, float* o, int64_t n) {
    scalar::weighted_sum_f16_rows(p, rows, offset, n_rows, o, n);
}

#endif

}  // namespace tf::kernels
