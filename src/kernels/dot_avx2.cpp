// AVX2 (+FMA, F16C) dot kernels. Integer block sums are exact; floats follow the lane contract
// of dot.h, so results equal the scalar kernels bit for bit. Types without a path here fall back.
#include <cmath>

#include "kernels/dot.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/dot_blocks.h"
#include "kernels/quant_k.h"
#include "util/half.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace tf::kernels::avx2 {

namespace {

// Signed int8 x signed int8, 32 pairs -> 8 int32 partial sums (|x| <= 127 so maddubs cannot saturate).
inline __m256i dot_i8(__m256i x, __m256i y) {
    const __m256i ax = _mm256_sign_epi8(x, x);
    const __m256i sy = _mm256_sign_epi8(y, x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

#include "kernels/dot_x86_shared.h"

inline __m256i sum_q8_0(const BlockQ8_0& x, const BlockQ8_0& y) {
    return dot_i8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)),
                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
}

// Unsigned nibbles times signed activations; the -8 offset is applied later from Σy.
inline __m256i sum_q4_0(const BlockQ4_0& x, const BlockQ8_0& y) {
    const __m256i p =
        _mm256_maddubs_epi16(unpack_nibbles(x.qs), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

inline __m256i sum_iq4_nl(const BlockIQ4_NL& x, const BlockQ8_0& y) {
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
    const __m256i idx = unpack_nibbles(x.qs);
    const __m256i q = _mm256_shuffle_epi8(_mm256_set_m128i(table, table), idx);
    return dot_i8(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
}

inline __m256i sum_mxfp4(const BlockMXFP4& x, const BlockQ8_0& y) {
    return dot_i8(mxfp4_levels(x), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
}

float dot_f32(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const float*>(w);
    auto y = static_cast<const float*>(a);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; ++k) {
            acc[k] =
                _mm256_add_ps(acc[k], _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k)));
        }
    }
    alignas(32) float p[32];
    for (int k = 0; k < 4; ++k) _mm256_store_ps(p + 8 * k, acc[k]);
    for (; i < n; ++i) p[i % 32] += x[i] * y[i];
    return reduce_lanes32(p);
}

float dot_f16(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const uint16_t*>(w);
    auto y = static_cast<const uint16_t*>(a);
    __m256 acc = _mm256_setzero_ps();  // lane l: elements l, l + 8, ... in order (the contract's one chain per lane)
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
        const __m256 yv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i)));
        acc = _mm256_fmadd_ps(xv, yv, acc);
    }
    alignas(32) float p[8];
    _mm256_store_ps(p, acc);
    for (; i < n; ++i) p[i % 8] = std::fma(_cvtsh_ss(x[i]), _cvtsh_ss(y[i]), p[i % 8]);
    return reduce_lanes8(p);
}

inline __m256 load_bf16x8(const uint16_t* p) {
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

float dot_bf16(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const uint16_t*>(w);
    auto y = static_cast<const uint16_t*>(a);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; ++k)
            acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(load_bf16x8(x + i + 8 * k), load_bf16x8(y + i + 8 * k)));
    }
    alignas(32) float p[32];
    for (int k = 0; k < 4; ++k) _mm256_store_ps(p + 8 * k, acc[k]);
    for (; i < n; ++i) p[i % 32] += bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]);
    return reduce_lanes32(p);
}

float dot_q4_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ4_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i sm = k4_scales_mins(x[b].scales);
        const int32_t imins = k4_mins_dot_v(sm, y[b].bsums);
        alignas(16) int16_t sc[8];  // one 16-byte store; the 2-byte reads below forward from it
        _mm_store_si128(reinterpret_cast<__m128i*>(sc), _mm_cvtepu8_epi16(sm));
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < 4; ++k) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * k));
            const __m256i q_lo = _mm256_and_si256(q, low4);
            const __m256i q_hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            const __m256i y_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 64 * k));
            const __m256i y_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 64 * k + 32));
            const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, y_lo), _mm256_set1_epi16(sc[2 * k]));
            const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, y_hi), _mm256_set1_epi16(sc[2 * k + 1]));
            acc = _mm256_add_epi32(acc, _mm256_add_epi32(p_lo, p_hi));
        }
        p[b % 8] += block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, hsum_i32(acc), imins);
    }
    return reduce_lanes8(p);
}

float dot_q5_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ5_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i bit = _mm256_set1_epi8(0x10);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i sm = k4_scales_mins(x[b].scales);
        const int32_t imins = k4_mins_dot_v(sm, y[b].bsums);
        alignas(16) int16_t sc[8];  // one 16-byte store; the 2-byte reads below forward from it
        _mm_store_si128(reinterpret_cast<__m128i*>(sc), _mm_cvtepu8_epi16(sm));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh));
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < 4; ++k) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * k));
            // bit (2k) of qh[l] is the 5th bit of sub-block 2k, bit (2k+1) of sub-block 2k+1
            const __m256i h_lo = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * k), 4), bit);
            const __m256i h_hi = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * k + 1), 4), bit);
            const __m256i q_lo = _mm256_or_si256(_mm256_and_si256(q, low4), h_lo);
            const __m256i q_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), h_hi);
            const __m256i y_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 64 * k));
            const __m256i y_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 64 * k + 32));
            const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, y_lo), _mm256_set1_epi16(sc[2 * k]));
            const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, y_hi), _mm256_set1_epi16(sc[2 * k + 1]));
            acc = _mm256_add_epi32(acc, _mm256_add_epi32(p_lo, p_hi));
        }
        p[b % 8] += block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, hsum_i32(acc), imins);
    }
    return reduce_lanes8(p);
}

float dot_q6_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ6_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int32_t bias = 0;  // the -32 offset, applied through the 16-element sums of the activations
        for (int j = 0; j < 16; ++j) bias += x[b].scales[j] * y[b].bsums[j];
        __m256i acc = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half) {
            const uint8_t* ql = x[b].ql + 64 * half;
            const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
            const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
            const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh + 32 * half));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, low2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), low2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), low2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), low2), 4));
            const int8_t* sc = x[b].scales + 8 * half;
            for (int k = 0; k < 4; ++k) {
                const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 128 * half + 32 * k));
                const __m256i prod = _mm256_maddubs_epi16(q[k], yv);  // 16 x int16: elements 0..15 then 16..31
                const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(prod, scales));
            }
        }
        p[b % 8] += block_result(_cvtsh_ss(x[b].d), y[b].d, hsum_i32(acc) - 32 * bias);
    }
    return reduce_lanes8(p);
}

// bit j of the 32-bit field -> byte j set to 0xFF (the fifth bits of Q5_0/Q5_1 quants).
inline __m256i bytes_from_bits32(const uint8_t* bits) {
    uint32_t x;
    std::memcpy(&x, bits, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x)), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// Unsigned 5-bit quants; the -16 offset is applied from the activation sums.
inline __m256i sum_q5_0(const BlockQ5_0& x, const BlockQ8_0& y) {
    const __m256i hi = _mm256_and_si256(bytes_from_bits32(x.qh), _mm256_set1_epi8(0x10));
    const __m256i q = _mm256_or_si256(unpack_nibbles(x.qs), hi);
    const __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

inline __m256i sum_q4_1(const BlockQ4_1& x, const BlockQ8_1& y) {
    const __m256i p =
        _mm256_maddubs_epi16(unpack_nibbles(x.qs), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
inline __m256i sum_q5_1(const BlockQ5_1& x, const BlockQ8_1& y) {
    const __m256i q =
        _mm256_or_si256(unpack_nibbles(x.qs), _mm256_and_si256(bytes_from_bits32(x.qh), _mm256_set1_epi8(0x10)));
    const __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs)));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
float dot_q2_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ2_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(0x0F)));
        const int32_t imins = dot16_i16(mins16, y[b].bsums);
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < 2; ++k) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * k));
            for (int sh = 0; sh < 4; ++sh) {
                const __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * sh), m3);
                const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 128 * k + 32 * sh));
                const int is = 8 * k + 2 * sh;
                const __m256i sc = scale_pair16(x[b].scales[is] & 0xF, x[b].scales[is + 1] & 0xF);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(v, yv), sc));
            }
        }
        p[b % 8] += block_result_kmin(_cvtsh_ss(x[b].d), _cvtsh_ss(x[b].dmin), y[b].d, hsum_i32(acc), imins);
    }
    return reduce_lanes8(p);
}

float dot_q3_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ3_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    int8_t scales[16];
    for (int64_t b = 0; b < n / QK_K; ++b) {
        unpack_q3_k_scales(x[b].scales, scales);
        // quants are stored as v+4 in 0..7 here; the -4 goes through the activation sums
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
        const int32_t bias = 4 * dot16_i16(sc16, y[b].bsums);
        const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].hmask));
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < 2; ++k) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * k));
            for (int sh = 0; sh < 4; ++sh) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * sh), m3);
                const __m256i hbit = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * k + sh), one);
                const __m256i v = _mm256_or_si256(lo, _mm256_slli_epi16(hbit, 2));
                const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 128 * k + 32 * sh));
                const int is = 8 * k + 2 * sh;
                acc = _mm256_add_epi32(
                    acc, _mm256_madd_epi16(_mm256_maddubs_epi16(v, yv), scale_pair16(scales[is], scales[is + 1])));
            }
        }
        p[b % 8] += block_result(_cvtsh_ss(x[b].d), y[b].d, hsum_i32(acc) - bias);
    }
    return reduce_lanes8(p);
}

float dot_iq4_xs(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockIQ4_XS*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
    const __m256i table2 = _mm256_set_m128i(table, table);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        __m256i acc = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = ((x[b].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[b].scales_h >> 2 * ib) & 3) << 4);
            const __m256i q = _mm256_shuffle_epi8(table2, unpack_nibbles(x[b].qs + 16 * ib));
            const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 32 * ib));
            const __m256i prod = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(yv, q));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(prod, _mm256_set1_epi16(static_cast<short>(ls - 32))));
        }
        p[b % 8] += block_result(_cvtsh_ss(x[b].d), y[b].d, hsum_i32(acc));
    }
    return reduce_lanes8(p);
}

}  // namespace

DotFn dot_kernel(TensorType t) {
    switch (t) {
        case TensorType::F32:
            return dot_f32;
        case TensorType::F16:
            return dot_f16;
        case TensorType::BF16:
            return dot_bf16;
        case TensorType::Q8_0:
            return dot_blocks32<BlockQ8_0, sum_q8_0, 0>;
        case TensorType::Q4_0:
            return dot_blocks32<BlockQ4_0, sum_q4_0, 8>;
        case TensorType::IQ4_NL:
            return dot_blocks32<BlockIQ4_NL, sum_iq4_nl, 0>;
        case TensorType::Q4_K:
            return dot_q4_k;
        case TensorType::Q5_K:
            return dot_q5_k;
        case TensorType::Q6_K:
            return dot_q6_k;
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
        case TensorType::MXFP4:
            return dot_mxfp4_blocks<sum_mxfp4>;
        default:
            return nullptr;
    }
}

}  // namespace tf::kernels::avx2

#pragma GCC pop_options

#else
namespace tf::kernels::avx2 {
DotFn dot_kernel(TensorType) {
    return nullptr;
}
}  // namespace tf::kernels::avx2
#endif
