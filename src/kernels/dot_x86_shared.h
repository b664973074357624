// x86 helpers shared by the AVX2 and AVX-512 dot kernels. Included inside each file's anonymous
// namespace, after its `#pragma GCC target`: every kernel file gets its own copy compiled for its
// own ISA (internal linkage, so no ODR mixing of AVX-512 code into the AVX2 path).
// Requires: <immintrin.h>, <cstring>, blocks.h, dot.h, dot_blocks.h, util/half.h, and an
// `unpack_nibbles(const uint8_t*) -> __m256i` defined before inclusion.
#pragma once

// Lane b of the result is the sum of all of s[b]'s lanes.
inline __m256i hsum8_i32(const __m256i* s) {
    __m256i t0 = _mm256_hadd_epi32(s[0], s[1]), t1 = _mm256_hadd_epi32(s[2], s[3]);
    __m256i t2 = _mm256_hadd_epi32(s[4], s[5]), t3 = _mm256_hadd_epi32(s[6], s[7]);
    __m256i u0 = _mm256_hadd_epi32(t0, t1), u1 = _mm256_hadd_epi32(t2, t3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

inline __m128i k4_scales_mins(const uint8_t* packed) {
    int32_t u2;
    std::memcpy(&u2, packed + 8, 4);
    __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed));
    v = _mm_insert_epi32(v, u2, 2);                                   // [u0, u1, u2, 0]
    const __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0));  // [u0, u2, u1, u2]
    const __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));  // [u0, u0, u1, u1]
    const __m128i kmask1 = _mm_set1_epi32(0x3f3f3f3f), kmask2 = _mm_set1_epi32(0x0f0f0f0f);
    const __m128i kmask3 = _mm_set1_epi32(0x03030303);
    const __m128i even = _mm_and_si128(a, kmask1);
    const __m128i hi = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)), kmask2);
    const __m128i top = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(b, 6), kmask3), 4);
    return _mm_blend_epi32(even, _mm_or_si128(hi, top), 0b1010);
}

// Σ_j mins[j] * (bsums[2j] + bsums[2j+1]), the mins in bytes 8..15 of sm.
inline int32_t k4_mins_dot_v(__m128i sm, const int16_t* bsums) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8));
    __m128i s = _mm_madd_epi16(_mm_hadd_epi16(lo, hi), _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

// The shared driver for 32-element blocks whose result is d_w*d_a*(isum - kBias*Σy): 8 blocks at a
// time, activation scales and sums read from the activation row's side arrays.
template <typename WBlock, __m256i (*BlockSum)(const WBlock&, const BlockQ8_0&), int kBias>
float dot_blocks32(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const WBlock*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    const float* ad = q8_0_act_scales(a, n);
    const int32_t* asum = q8_0_act_sums(a, n);
    const int64_t nb = n / 32;
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256i s[8];
        for (int k = 0; k < 8; ++k) s[k] = BlockSum(x[b + k], y[b + k]);
        // Eight half scales converted at once (exact, like the scalar conversion).
        const __m256 dw = _mm256_cvtph_ps(_mm_setr_epi16(
            static_cast<short>(x[b].d), static_cast<short>(x[b + 1].d), static_cast<short>(x[b + 2].d),
            static_cast<short>(x[b + 3].d), static_cast<short>(x[b + 4].d), static_cast<short>(x[b + 5].d),
            static_cast<short>(x[b + 6].d), static_cast<short>(x[b + 7].d)));
        const __m256 da = _mm256_loadu_ps(ad + b);
        __m256i isum = hsum8_i32(s);
        if (kBias) {
            const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(asum + b));
            isum = _mm256_sub_epi32(isum, _mm256_mullo_epi32(sums, _mm256_set1_epi32(kBias)));
        }
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, da)));
    }
    alignas(32) float p[8];
    _mm256_store_ps(p, acc);
    for (; b < nb; ++b) {
        const int32_t isum = hsum_i32(BlockSum(x[b], y[b])) - kBias * asum[b];
        p[b % 8] += block_result(_cvtsh_ss(x[b].d), ad[b], isum);
    }
    return reduce_lanes8(p);
}

// Σ_j scale_j * bsums[j] over the 16 groups of 16 (scales given as 16 int16).
inline int32_t dot16_i16(__m256i scales16, const int16_t* bsums) {
    const __m256i p = _mm256_madd_epi16(scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums)));
    return hsum_i32(p);
}

// Two 8-lane int16 halves: the scale of group a in lanes 0..7, of group b in lanes 8..15.
inline __m256i scale_pair16(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(b)), _mm_set1_epi16(static_cast<short>(a)));
}

inline __m256 load_halves8(const uint16_t* p0, size_t stride_bytes) {
    const auto* b = reinterpret_cast<const uint8_t*>(p0);
    uint16_t h[8];
    for (int k = 0; k < 8; ++k) std::memcpy(&h[k], b + k * stride_bytes, 2);
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

// Q4_1 and Q5_1 with Q8_1 activations: r = (d_w*d_a)*isum + m_w*s_a per block, 8 blocks at a
// time; BlockSum gives a block's exact int32 partial sums.
template <typename WBlock, __m256i (*BlockSum)(const WBlock&, const BlockQ8_1&)>
float dot_blocks32_min(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const WBlock*>(w);
    auto y = static_cast<const BlockQ8_1*>(a);
    const int64_t nb = n / 32;
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256i s[8];
        for (int k = 0; k < 8; ++k) s[k] = BlockSum(x[b + k], y[b + k]);
        const __m256 dw = load_halves8(&x[b].d, sizeof(WBlock)), mw = load_halves8(&x[b].m, sizeof(WBlock));
        const __m256 da = load_halves8(&y[b].d, sizeof(BlockQ8_1)), sa = load_halves8(&y[b].s, sizeof(BlockQ8_1));
        const __m256 r = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hsum8_i32(s)), _mm256_mul_ps(dw, da)), _mm256_mul_ps(mw, sa));
        acc = _mm256_add_ps(acc, r);
    }
    alignas(32) float p[8];
    _mm256_store_ps(p, acc);
    for (; b < nb; ++b) {
        const int32_t isum = hsum_i32(BlockSum(x[b], y[b]));
        p[b % 8] += block_result_min(_cvtsh_ss(x[b].d), _cvtsh_ss(y[b].d), isum, _cvtsh_ss(x[b].m), _cvtsh_ss(y[b].s));
    }
    return reduce_lanes8(p);
}

// MXFP4: the same 8-blocks-at-a-time driver as dot_blocks32, with E8M0 block scales. The doubled
// FP4 levels are looked up like IQ4_NL's; |level| <= 12, so the signed-int8 products are exact.
inline __m256i mxfp4_levels(const BlockMXFP4& x) {
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kMxfp4Values));
    return _mm256_shuffle_epi8(_mm256_set_m128i(table, table), unpack_nibbles(x.qs));
}

template <__m256i (*BlockSum)(const BlockMXFP4&, const BlockQ8_0&)>
float dot_mxfp4_blocks(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockMXFP4*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    const float* ad = q8_0_act_scales(a, n);
    const int64_t nb = n / 32;
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256i s[8];
        for (int k = 0; k < 8; ++k) s[k] = BlockSum(x[b + k], y[b + k]);
        // 2^(e-128) built from its bits: (e-1) << 23, subnormal patterns for e < 2.
        const __m256i e = _mm256_setr_epi32(x[b].e, x[b + 1].e, x[b + 2].e, x[b + 3].e, x[b + 4].e, x[b + 5].e,
                                            x[b + 6].e, x[b + 7].e);
        const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
        const __m256i sub = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
        const __m256i small = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e);
        const __m256 dw = _mm256_castsi256_ps(_mm256_blendv_epi8(normal, sub, small));
        const __m256 da = _mm256_loadu_ps(ad + b);
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(hsum8_i32(s)), _mm256_mul_ps(dw, da)));
    }
    alignas(32) float p[8];
    _mm256_store_ps(p, acc);
    for (; b < nb; ++b) p[b % 8] += block_result(mxfp4_scale(x[b].e), ad[b], hsum_i32(BlockSum(x[b], y[b])));
    return reduce_lanes8(p);
}
