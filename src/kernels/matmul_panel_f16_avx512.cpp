// F16 panel products: per element, the 16 rows' half-precision weights widened once and fused-
// multiply-added with up to 3 tokens' activations (read from the float copy the activation row
// carries) into partial sum i % 8 — dot()'s F16 contract, lane-wise, so bit-identical to it.
#include "kernels/dot.h"
#include "kernels/matmul_panel_impl.h"
#include "kernels/matmul_panel_layout.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace tf::kernels {

using panel_layout::kF16ElementBytes;

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace {

template <int T>
void f16_tokens(const uint8_t* panel, __mmask16 rows, int64_t n, const uint8_t* a, int64_t a_stride, float* out, int64_t out_stride) {
    const float* y[T];
    for (int t = 0; t < T; ++t) y[t] = f16_act_floats(a + t * a_stride, n);
    __m512 acc[T][8];
    for (int t = 0; t < T; ++t) {
        for (int k = 0; k < 8; ++k) acc[t][k] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i + 8 <= n; i += 8) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) {
            const __m512 w = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(panel + (i + k) * kF16ElementBytes)));
            for (int t = 0; t < T; ++t) acc[t][k] = _mm512_fmadd_ps(w, _mm512_set1_ps(y[t][i + k]), acc[t][k]);
        }
    }
    for (int t = 0; t < T; ++t) {
        const __m512* p = acc[t];
        const __m512 r = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[4]), _mm512_add_ps(p[2], p[6])),
                                       _mm512_add_ps(_mm512_add_ps(p[1], p[5]), _mm512_add_ps(p[3], p[7])));
        _mm512_mask_storeu_ps(out + t * out_stride, rows, r);
    }
}

}  // namespace

void panel_matmul_f16(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                      int64_t out_stride) {
    const __mmask16 rows = static_cast<__mmask16>((1u << n_rows) - 1);
    int64_t t = 0;
    for (; t + 3 <= n_tokens; t += 3) f16_tokens<3>(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
    for (; t + 2 <= n_tokens; t += 2) f16_tokens<2>(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
    if (t < n_tokens) f16_tokens<1>(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
}

#pragma GCC pop_options

}  // namespace tf::kernels

#endif
