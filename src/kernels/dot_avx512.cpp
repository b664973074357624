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

inline __m256i sum_mxfp4(const BlockMXFP4& x, const BlockQ8_0& y) {
    const __m256i q = mxfp4_levels(x);
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(q), _mm256_sign_epi8(yv, q));
}

inline __m256i sum_iq4_nl(const BlockIQ4_NL& x, const BlockQ8_0& y) {
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
    const __m256i q = _mm256_shuffle_epi8(_mm256_set_m128i(table, table), unpack_nibbles(x.qs));
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(q), _mm256_sign_epi8(yv, q));
}

// The fifth bits of Q5_0/Q5_1 quants: byte j is 0x10 where bit j of qh is set (one masked move).
inline __m256i fifth_bits(const uint8_t* qh) {
    uint32_t bits;
    std::memcpy(&bits, qh, 4);
    return _mm256_maskz_mov_epi8(static_cast<__mmask32>(bits), _mm256_set1_epi8(0x10));
}

// Unsigned 5-bit quants; the -16 offset is applied from the activation sums.
inline __m256i sum_q5_0(const BlockQ5_0& x, const BlockQ8_0& y) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(x.qs), fifth_bits(x.qh));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
}

inline __m256i sum_q4_1(const BlockQ4_1& x, const BlockQ8_1& y) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), unpack_nibbles(x.qs),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
}

inline __m256i sum_q5_1(const BlockQ5_1& x, const BlockQ8_1& y) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(x.qs), fifth_bits(x.qh));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
}

// Four 8-lane int16 groups: scales a, b, c, d for int16 lanes 0-7, 8-15, 16-23, 24-31.
inline __m512i scale_quad16(int a, int b, int c, int d) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(scale_pair16(a, b)), scale_pair16(c, d), 1);
}

// Q2_K: 64 quants per step (two 2-bit planes of 32 bytes), int16 pair sums scaled per group of
// 16 and accumulated with one dpwssd.
float dot_q2_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ2_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m512i m3 = _mm512_set1_epi8(3);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(0x0F)));
        const int32_t imins = dot16_i16(mins16, y[b].bsums);
        const uint8_t* sc = x[b].scales;
        __m512i acc = _mm512_setzero_si512();
        for (int k = 0; k < 2; ++k) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * k));
            const __m512i qq = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
            for (int sh = 0; sh < 4; sh += 2) {
                // low half: plane sh, high half: plane sh + 1
                const __m512i v = _mm512_and_si512(
                    _mm512_srlv_epi16(qq, _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(2 * sh)),
                                                             _mm256_set1_epi16(static_cast<short>(2 * sh + 2)), 1)),
                    m3);
                const __m512i yv = _mm512_loadu_si512(y[b].qs + 128 * k + 32 * sh);
                const int is = 8 * k + 2 * sh;
                const __m512i s16 = scale_quad16(sc[is] & 0xF, sc[is + 1] & 0xF, sc[is + 2] & 0xF, sc[is + 3] & 0xF);
                acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(v, yv), s16);
            }
        }
        p[b % 8] +=
            block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, _mm512_reduce_add_epi32(acc), imins);
    }
    return reduce_lanes8(p);
}

// Q3_K: as Q2_K with the third bit from hmask; quants stored as v+4 in 0..7, the -4 through the
// activation sums.
float dot_q3_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ3_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m512i m3 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
    int8_t scales[16];
    for (int64_t b = 0; b < n / QK_K; ++b) {
        unpack_q3_k_scales(x[b].scales, scales);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
        const int32_t bias = 4 * dot16_i16(sc16, y[b].bsums);
        const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].hmask));
        const __m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(hm), hm, 1);
        __m512i acc = _mm512_setzero_si512();
        for (int k = 0; k < 2; ++k) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * k));
            const __m512i qq = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
            for (int sh = 0; sh < 4; sh += 2) {
                const __m512i qshift = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(2 * sh)),
                                                          _mm256_set1_epi16(static_cast<short>(2 * sh + 2)), 1);
                const __m512i hshift = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(4 * k + sh)),
                                                          _mm256_set1_epi16(static_cast<short>(4 * k + sh + 1)), 1);
                const __m512i lo = _mm512_and_si512(_mm512_srlv_epi16(qq, qshift), m3);
                const __m512i hbit = _mm512_and_si512(_mm512_srlv_epi16(hh, hshift), one);
                const __m512i v = _mm512_or_si512(lo, _mm512_slli_epi16(hbit, 2));
                const __m512i yv = _mm512_loadu_si512(y[b].qs + 128 * k + 32 * sh);
                const int is = 8 * k + 2 * sh;
                acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(v, yv),
                                          scale_quad16(scales[is], scales[is + 1], scales[is + 2], scales[is + 3]));
            }
        }
        p[b % 8] += block_result(_cvtsh_ss(x[b].d), y[b].d, _mm512_reduce_add_epi32(acc) - bias);
    }
    return reduce_lanes8(p);
}

// IQ4_XS: two sub-blocks of 32 per 512-bit vector, looked up in the non-linear table, exact
// 4-element sums by dpbusd, scaled per sub-block in int32.
float dot_iq4_xs(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockIQ4_XS*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
    const __m512i table4 = _mm512_broadcast_i32x4(table);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        __m512i acc = _mm512_setzero_si512();
        for (int ib = 0; ib < 8; ib += 2) {
            auto scale = [&](int i) {
                return (((x[b].scales_l[i / 2] >> 4 * (i % 2)) & 0xf) | (((x[b].scales_h >> 2 * i) & 3) << 4)) - 32;
            };
            const __m512i nib = _mm512_inserti64x4(_mm512_castsi256_si512(unpack_nibbles(x[b].qs + 16 * ib)),
                                                   unpack_nibbles(x[b].qs + 16 * ib + 16), 1);
            const __m512i q = _mm512_shuffle_epi8(table4, nib);
            const __m512i yv = _mm512_loadu_si512(y[b].qs + 32 * ib);
            const __m512i aq = _mm512_abs_epi8(q);
            const __m512i sy =
                _mm512_mask_sub_epi8(yv, _mm512_movepi8_mask(q), _mm512_setzero_si512(), yv);  // y * sign(q)
            const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), aq, sy);
            const __m512i ls = _mm512_inserti64x4(_mm512_set1_epi32(scale(ib)), _mm256_set1_epi32(scale(ib + 1)), 1);
            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(s, ls));
        }
        p[b % 8] += block_result(_cvtsh_ss(x[b].d), y[b].d, _mm512_reduce_add_epi32(acc));
    }
    return reduce_lanes8(p);
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
        p[b % 8] +=
            block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, _mm512_reduce_add_epi32(acc), imins);
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
        p[b % 8] +=
            block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, _mm512_reduce_add_epi32(acc), imins);
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
            const __m256i q0 =
                _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, low2), 4));
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
        case TensorType::F32:
            return dot_f32;
        case TensorType::F16:
            return nullptr;  // the AVX2 kernel: the 8-lane contract needs no wider vectors
        case TensorType::BF16:
            return dot_bf16;
        case TensorType::Q8_0:
            return dot_blocks32<BlockQ8_0, sum_q8_0, 0>;
        case TensorType::Q4_0:
            return dot_blocks32<BlockQ4_0, sum_q4_0, 8>;
        case TensorType::IQ4_NL:
            return dot_blocks32<BlockIQ4_NL, sum_iq4_nl, 0>;
        case TensorType::Q5_0:
            return dot_blocks32<BlockQ5_0, sum_q5_0, 16>;
        case TensorType::Q4_1:
            return dot_blocks32_min<BlockQ4_1, sum_q4_1>;
        case TensorType::Q5_1:
            return dot_blocks32_min<BlockQ5_1, sum_q5_1>;
        case TensorType::Q2_K:
            return dot_q2_k;
        case TensorType::Q3_K:
            return dot_q3_k;
        case TensorType::IQ4_XS:
            return dot_iq4_xs;
        case TensorType::Q4_K:
            return dot_q4_k;
        case TensorType::Q5_K:
            return dot_q5_k;
        case TensorType::Q6_K:
            return dot_q6_k;
        case TensorType::MXFP4:
            return dot_mxfp4_blocks<sum_mxfp4>;
        default:
            return nullptr;
    }
}

}  // namespace tf::kernels::avx512

#pragma GCC pop_options

#else
namespace tf::kernels::avx512 {
DotFn dot_kernel(TensorType) {
    return nullptr;
}
}  // namespace tf::kernels::avx512
#endif
