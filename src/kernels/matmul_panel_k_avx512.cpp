// Q4_K and Q6_K panel products. Per super-block and row, dot()'s exact integer sums:
//   Q4_K: isum = Σ_j sc_j · Σ_e v_e·y_e (8 units of 32),  imins = Σ_j m_j · (bsum_2j + bsum_2j+1)
//   Q6_K: isum = Σ_k sc_k · (Σ_e u_e·y_e − 32·bsum_k)   (16 sub-blocks of 16, u = q + 32 ≥ 0)
// dpbusd multiplies the unsigned weight bytes with the signed activation bytes, 16 rows at once;
// a unit's sums are scaled by the 16 rows' scales with one vpmulld. Then dot_blocks.h's float
// step lane-wise, into partial sum b % 8 — bit-identical to dot().
//
// Up to 4 tokens share each decoded weight vector; the 8 partial sums per token live in a small
// stack array (one load/add/store per super-block) so that registers hold weights and sums.
#include "kernels/matmul_panel_impl.h"

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/matmul_panel_layout.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace tf::kernels {

using namespace panel_layout;

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace {

inline __m512i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

inline __m512 reduce8(const __m512* p) {
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[4]), _mm512_add_ps(p[2], p[6])),
                         _mm512_add_ps(_mm512_add_ps(p[1], p[5]), _mm512_add_ps(p[3], p[7])));
}

// T tokens' activation rows, and their 8 partial sums per row zeroed.
template <int T>
inline void start_tokens(const uint8_t* a, int64_t a_stride, const BlockQ8_K* (&y)[T], __m512 (&p)[T][8]) {
    for (int t = 0; t < T; ++t) {
        y[t] = reinterpret_cast<const BlockQ8_K*>(a + t * a_stride);
        for (int k = 0; k < 8; ++k) p[t][k] = _mm512_setzero_ps();
    }
}

// dot()'s lane reduction of each token's partial sums, stored for the panel's rows.
template <int T>
inline void store_tokens(const __m512 (&p)[T][8], __mmask16 rows, float* out, int64_t out_stride) {
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(out + t * out_stride, rows, reduce8(p[t]));
}

// Σ over 8 groups of 4 elements (2 chains of 4 for instruction-level parallelism).
inline __m512i unit_sum(const __m512i* w, const int8_t* yq) {
    __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
        a = _mm512_dpbusd_epi32(a, w[g], bcast4(yq + 4 * g));
        b = _mm512_dpbusd_epi32(b, w[g + 4], bcast4(yq + 16 + 4 * g));
    }
    return _mm512_add_epi32(a, b);
}

// The high nibbles are used in place (v·16, masked, never shifted): their unit sums come out
// 16 times too large, are accumulated apart and divided once per super-block — exact, since the
// sum is a multiple of 16 (|16·Σ sc·S| < 2^28, no overflow).
template <int T>
void q4_k_tokens(const uint8_t* panel, __mmask16 rows, int64_t n, const uint8_t* a, int64_t a_stride, float* out, int64_t out_stride) {
    const int64_t nb = n / QK_K;
    const BlockQ8_K* y[T];
    __m512 p[T][8];
    start_tokens<T>(a, a_stride, y, p);
    const __m512i low = _mm512_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* src = panel + b * kQ4kBytes;
        __m512i isum[T], isum16[T], imins[T];
        alignas(16) int32_t bs_pairs[T][4];  // (bsum_2j + bsum_2j+1) for units 2i, 2i+1 as two int16
        for (int t = 0; t < T; ++t) {
            isum[t] = isum16[t] = imins[t] = _mm512_setzero_si512();
            const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t][b].bsums));
            const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t][b].bsums + 8));
            _mm_store_si128(reinterpret_cast<__m128i*>(bs_pairs[t]), _mm_hadd_epi16(lo, hi));
        }
#pragma GCC unroll 1
        for (int i = 0; i < 4; ++i) {
            __m512i packed[8], w[8];
            for (int g = 0; g < 8; ++g) packed[g] = _mm512_loadu_si512(src + q4k_quant(i, g));
            // Two super-blocks ahead (37 lines each): measured 20-45 % faster than the hardware
            // prefetcher alone on a busy host (bench/README.md).
            for (int l = 0; l < 10; ++l) _mm_prefetch(reinterpret_cast<const char*>(src + 2 * kQ4kBytes + (10 * i + l) * 64), _MM_HINT_T0);
            for (int g = 0; g < 8; ++g) w[g] = _mm512_and_si512(packed[g], low);
            const __m512i sc0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + kQ4kScales + 32 * i)));
            for (int t = 0; t < T; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(sc0, unit_sum(w, y[t][b].qs + 64 * i)));
            for (int g = 0; g < 8; ++g) w[g] = _mm512_andnot_si512(low, packed[g]);
            const __m512i sc1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + kQ4kScales + 32 * i + 16)));
            for (int t = 0; t < T; ++t) isum16[t] = _mm512_add_epi32(isum16[t], _mm512_mullo_epi32(sc1, unit_sum(w, y[t][b].qs + 64 * i + 32)));
            const __m512i mins = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + kQ4kMins + 32 * i)));
            for (int t = 0; t < T; ++t) imins[t] = _mm512_dpwssd_epi32(imins[t], mins, _mm512_set1_epi32(bs_pairs[t][i]));
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + kQ4kD)));
        const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + kQ4kDmin)));
        for (int t = 0; t < T; ++t) {
            const __m512i exact = _mm512_add_epi32(isum[t], _mm512_srai_epi32(isum16[t], 4));
            const __m512 da = _mm512_set1_ps(y[t][b].d);
            const __m512 r = _mm512_sub_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(dw, da)),
                                           _mm512_mul_ps(_mm512_cvtepi32_ps(imins[t]), _mm512_mul_ps(dm, da)));
            p[t][b % 8] = _mm512_add_ps(p[t][b % 8], r);
        }
    }
    store_tokens<T>(p, rows, out, out_stride);
}

// Group g of quad h of a Q6_K super-block: the 4 units' 6-bit values as unsigned bytes.
inline void q6_group(const uint8_t* src, int h, int g, __m512i* w) {
    const __m512i m6 = _mm512_set1_epi8(0x3F), m2 = _mm512_set1_epi8(0x03), m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i a = _mm512_loadu_si512(src + q6k_vec(h, g, 0));
    const __m512i b = _mm512_loadu_si512(src + q6k_vec(h, g, 1));
    const __m512i c = _mm512_loadu_si512(src + q6k_vec(h, g, 2));
    w[0] = _mm512_and_si512(a, m6);
    w[1] = _mm512_and_si512(b, m6);
    w[2] = _mm512_and_si512(c, m6);
    // The top 2 bits of a, b, c moved to bits 0-1, 2-3, 4-5 (16-bit shifts: the masks drop what
    // crosses from the neighbouring byte).
    const __m512i ab = _mm512_ternarylogic_epi32(_mm512_srli_epi16(a, 6), _mm512_srli_epi16(b, 4), m2, 0xE4);  // m2 ? a' : b'
    w[3] = _mm512_ternarylogic_epi32(ab, _mm512_and_si512(_mm512_srli_epi16(c, 2), m30), m4, 0xEC);         // (ab & m4) | c'
}

template <int T>
void q6_k_tokens(const uint8_t* panel, __mmask16 rows, int64_t n, const uint8_t* a, int64_t a_stride, float* out, int64_t out_stride) {
    const int64_t nb = n / QK_K;
    const BlockQ8_K* y[T];
    __m512 p[T][8];
    start_tokens<T>(a, a_stride, y, p);
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* src = panel + b * kQ6kBytes;
        __m512i isum[T];
        alignas(64) int32_t bias[T][16];  // -32 * bsum of each sub-block (u = q + 32 unsigned)
        for (int t = 0; t < T; ++t) {
            isum[t] = _mm512_setzero_si512();
            const __m512i bs = _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[t][b].bsums)));
            _mm512_store_si512(bias[t], _mm512_mullo_epi32(bs, _mm512_set1_epi32(-32)));
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
            for (int half = 0; half < 2; ++half) {  // groups 0-3: sub-blocks 2u, groups 4-7: 2u+1
                __m512i s[T][4];
                for (int t = 0; t < T; ++t) {
                    for (int j = 0; j < 4; ++j) s[t][j] = _mm512_set1_epi32(bias[t][2 * (4 * h + j) + half]);
                }
#pragma GCC unroll 4
                for (int gg = 0; gg < 4; ++gg) {
                    const int g = 4 * half + gg;
                    const int step = (2 * h + half) * 4 + gg;  // 16 steps, 53 lines per super-block
                    for (int l = 0; l < 4; ++l) _mm_prefetch(reinterpret_cast<const char*>(src + 2 * kQ6kBytes + (4 * step + l) * 64), _MM_HINT_T0);
                    __m512i w[4];
                    q6_group(src, h, g, w);
                    for (int t = 0; t < T; ++t) {
                        const int8_t* yq = y[t][b].qs + 128 * h + 4 * g;
                        for (int j = 0; j < 4; ++j) s[t][j] = _mm512_dpbusd_epi32(s[t][j], w[j], bcast4(yq + 32 * j));
                    }
                }
                for (int j = 0; j < 4; ++j) {
                    const int k = 2 * (4 * h + j) + half;
                    const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + kQ6kScales + 16 * k)));
                    for (int t = 0; t < T; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(sc, s[t][j]));
                }
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + kQ6kD)));
        for (int t = 0; t < T; ++t) {
            const __m512 r = _mm512_mul_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, _mm512_set1_ps(y[t][b].d)));
            p[t][b % 8] = _mm512_add_ps(p[t][b % 8], r);
        }
    }
    store_tokens<T>(p, rows, out, out_stride);
}

using TokensFn = void (*)(const uint8_t*, __mmask16, int64_t, const uint8_t*, int64_t, float*, int64_t);

void run(TokensFn f4, TokensFn f2, TokensFn f1, const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride,
         int64_t n_tokens, float* out, int64_t out_stride) {
    const __mmask16 rows = static_cast<__mmask16>((1u << n_rows) - 1);
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) f4(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
    for (; t + 2 <= n_tokens; t += 2) f2(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
    if (t < n_tokens) f1(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
}

}  // namespace

void panel_matmul_q4_k(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                       int64_t out_stride) {
    run(q4_k_tokens<4>, q4_k_tokens<2>, q4_k_tokens<1>, panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
}

void panel_matmul_q6_k(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                       int64_t out_stride) {
    run(q6_k_tokens<4>, q6_k_tokens<2>, q6_k_tokens<1>, panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
}

#pragma GCC pop_options

}  // namespace tf::kernels

#endif
