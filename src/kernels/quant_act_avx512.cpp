// AVX-512 activation quantizers, bit-identical to the scalar ones: the same products, the same
// rounding (half to even, the conversion's default mode, for both), maxima taken in any order
// (max is exact).
#include "kernels/quant_act.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "util/half.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12 reports its own intrinsic headers (undefined upper halves) as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace tf::kernels::avx512 {

namespace {

inline __m512 abs_ps(__m512 v) {
    return _mm512_andnot_ps(_mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(0x80000000u))), v);
}

}  // namespace

void quantize_act_q8_0(const float* x, BlockQ8_0* y, float* d_out, int32_t* sums,
                                                                               int64_t n) {
    for (int64_t i = 0; i < n / 32; ++i, x += 32) {
        const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs_ps(a), abs_ps(b)));
        const float d = amax / ((1 << 7) - 1);
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        y[i].d = fp32_to_fp16(d);
        const __m512 vid = _mm512_set1_ps(id);
        const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vid));
        const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, vid));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm512_cvtepi32_epi8(qa));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16), _mm512_cvtepi32_epi8(qb));
        if (d_out != nullptr) d_out[i] = fp16_to_fp32(y[i].d);
        if (sums != nullptr) sums[i] = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
    }
}

void quantize_act_q8_k(const float* x, BlockQ8_K* y, int64_t n) {
    for (int64_t i = 0; i < n / 256; ++i, x += 256) {
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < 256; j += 16) m = _mm512_max_ps(m, abs_ps(_mm512_loadu_ps(x + j)));
        const float amax = _mm512_reduce_max_ps(m);
        if (!amax) {
            y[i].d = 0;
            std::memset(y[i].qs, 0, sizeof y[i].qs);
            std::memset(y[i].bsums, 0, sizeof y[i].bsums);
            continue;
        }
        // The scalar quantizer keeps the first element of the largest magnitude, with its sign.
        float max = 0;
        for (int j = 0; j < 256; j += 16) {
            const __mmask16 hit = _mm512_cmp_ps_mask(abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = x[j + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        for (int j = 0; j < 256; j += 16) {
            // Round to nearest even (the default mode), as nearest_int's magic constant does.
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + j)));
            q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + j), _mm512_cvtepi32_epi8(q));
            y[i].bsums[j / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
        }
        y[i].d = 1 / iscale;
    }
}

}  // namespace tf::kernels::avx512

#pragma GCC pop_options

#endif
