// AVX-512 (F, BW, VL, VNNI) dot kernels: VNNI dpbusd for the integer sums, 512-bit float lanes.
// Same lane contract as dot.h, hence bit-identical to the scalar kernels.
#include "kernels/dot.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/dot_blocks.h"
#include "kernels/quant_k.h"
#include "util/half.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12 reports its own intrinsic headers (undefined upper halves) as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace tf::kernels::avx512 {

namespace {

inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
}

#include "kernels/dot_x86_shared.h"

inline __m256i sum_q8_0(const BlockQ8_0& x, const BlockQ8_0& y) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(xv), _mm256_sign_epi8(yv, xv));
}

inline __m256i sum_q4_0(const BlockQ4_0& x, const BlockQ8_0& y) {
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), unpack_nibbles(x.qs), yv);  // -8*Σy applied later
}

inline __m256i sum_iq4_nl(const BlockIQ4_NL& x, const BlockQ8_0& y) {
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
    const __m256i q = _mm256_shuffle_epi8(_mm256_set_m128i(table, table), unpack_nibbles(x.qs));
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(q), _mm256_sign_epi8(yv, q));
}

float dot_f32(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const float*>(w);
    auto y = static_cast<const float*>(a);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
        acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16)));
    }
    alignas(64) float p[32];
    _mm512_store_ps(p, acc0);
    _mm512_store_ps(p + 16, acc1);
    for (; i < n; ++i) p[i % 32] += x[i] * y[i];
    return reduce_lanes32(p);
}

inline __m512 load_f16x16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline __m512 load_bf16x16(const uint16_t* p) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

float dot_bf16(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const uint16_t*>(w);
    auto y = static_cast<const uint16_t*>(a);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(load_bf16x16(x + i), load_bf16x16(y + i)));
        acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(load_bf16x16(x + i + 16), load_bf16x16(y + i + 16)));
    }
    alignas(64) float p[32];
    _mm512_store_ps(p, acc0);
    _mm512_store_ps(p + 16, acc1);
    for (; i < n; ++i) p[i % 32] += bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]);
    return reduce_lanes32(p);
}

// 32 packed bytes of nibbles -> 64 bytes: the 32 low nibbles, then the 32 high nibbles.
inline __m512i unpack_nibbles64(const uint8_t* qs) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    const __m512i both = _mm512_inserti64x4(_mm512_zextsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
    return _mm512_and_si512(both, _mm512_set1_epi8(0x0F));
}

inline __m512i scales16_2x16(int a, int b) {
    return _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_set1_epi16(static_cast<short>(a))),
                              _mm256_set1_epi16(static_cast<short>(b)), 1);
}

float dot_q4_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ4_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i sm = k4_scales_mins(x[b].scales);
        const int32_t imins = k4_mins_dot_v(sm, y[b].bsums);
        alignas(16) int16_t sc[8];  // one 16-byte store; the 2-byte reads below forward from it
        _mm_store_si128(reinterpret_cast<__m128i*>(sc), _mm_cvtepu8_epi16(sm));
        __m512i acc = _mm512_setzero_si512();
        for (int k = 0; k < 4; ++k) {
            const __m512i q = unpack_nibbles64(x[b].qs + 32 * k);
            const __m512i yv = _mm512_loadu_si512(y[b].qs + 64 * k);
            const __m512i s16 = _mm512_maddubs_epi16(q, yv);
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(s16, scales16_2x16(sc[2 * k], sc[2 * k + 1])));
        }
        p[b % 8] += block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, _mm512_reduce_add_epi32(acc), imins);
    }
    return reduce_lanes8(p);
}

float dot_q5_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ5_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i sm = k4_scales_mins(x[b].scales);
        const int32_t imins = k4_mins_dot_v(sm, y[b].bsums);
        alignas(16) int16_t sc[8];  // one 16-byte store; the 2-byte reads below forward from it
        _mm_store_si128(reinterpret_cast<__m128i*>(sc), _mm_cvtepu8_epi16(sm));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh));
        const __m256i bit = _mm256_set1_epi8(0x10);
        __m512i acc = _mm512_setzero_si512();
        for (int k = 0; k < 4; ++k) {
            const __m256i h_lo = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * k), 4), bit);
            const __m256i h_hi = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * k + 1), 4), bit);
            const __m512i h = _mm512_inserti64x4(_mm512_zextsi256_si512(h_lo), h_hi, 1);
            const __m512i q = _mm512_or_si512(unpack_nibbles64(x[b].qs + 32 * k), h);
            const __m512i yv = _mm512_loadu_si512(y[b].qs + 64 * k);
            const __m512i s16 = _mm512_maddubs_epi16(q, yv);
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(s16, scales16_2x16(sc[2 * k], sc[2 * k + 1])));
        }
        p[b % 8] += block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, _mm512_reduce_add_epi32(acc), imins);
    }
    return reduce_lanes8(p);
}

float dot_q6_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ6_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int32_t bias = 0;
        for (int j = 0; j < 16; ++j) bias += x[b].scales[j] * y[b].bsums[j];
        __m512i acc = _mm512_setzero_si512();
        for (int half = 0; half < 2; ++half) {
            const uint8_t* ql = x[b].ql + 64 * half;
            const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
            const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
            const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh + 32 * half));
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, low2), 4));
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, low4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), low2), 4));
            const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), low2), 4));
            const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), low2), 4));
            const int8_t* sc = x[b].scales + 8 * half;
            const __m512i qa = _mm512_inserti64x4(_mm512_zextsi256_si512(q0), q1, 1);
            const __m512i qb = _mm512_inserti64x4(_mm512_zextsi256_si512(q2), q3, 1);
            const __m512i ya = _mm512_loadu_si512(y[b].qs + 128 * half);
            const __m512i yb = _mm512_loadu_si512(y[b].qs + 128 * half + 64);
            // int16 lanes 8j..8j+7 hold the pair sums of scale group j.
            const __m512i sa = _mm512_inserti64x4(
                _mm512_zextsi256_si512(_mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]))),
                _mm256_set_m128i(_mm_set1_epi16(sc[3]), _mm_set1_epi16(sc[2])), 1);
            const __m512i sb = _mm512_inserti64x4(
                _mm512_zextsi256_si512(_mm256_set_m128i(_mm_set1_epi16(sc[5]), _mm_set1_epi16(sc[4]))),
                _mm256_set_m128i(_mm_set1_epi16(sc[7]), _mm_set1_epi16(sc[6])), 1);
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(qa, ya), sa));
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(qb, yb), sb));
        }
        p[b % 8] += block_result(_cvtsh_ss(x[b].d), y[b].d, _mm512_reduce_add_epi32(acc) - 32 * bias);
    }
    return reduce_lanes8(p);
}


}  // namespace

DotFn dot_kernel(TensorType t) {
    switch (t) {
        case TensorType::F32: return dot_f32;
        case TensorType::F16: return nullptr;  // the AVX2 kernel: the 8-lane contract needs no wider vectors
        case TensorType::BF16: return dot_bf16;
        case TensorType::Q8_0: return dot_blocks32<BlockQ8_0, sum_q8_0, 0>;
        case TensorType::Q4_0: return dot_blocks32<BlockQ4_0, sum_q4_0, 8>;
        case TensorType::IQ4_NL: return dot_blocks32<BlockIQ4_NL, sum_iq4_nl, 0>;
        case TensorType::Q4_K: return dot_q4_k;
        case TensorType::Q5_K: return dot_q5_k;
        case TensorType::Q6_K: return dot_q6_k;
        default: return nullptr;
    }
}

}  // namespace tf::kernels::avx512

#pragma GCC pop_options

#else
namespace tf::kernels::avx512 {
DotFn dot_kernel(TensorType) { return nullptr; }
}  // namespace tf::kernels::avx512
#endif
