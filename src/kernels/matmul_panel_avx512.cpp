#include "kernels/matmul_panel.h"

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/matmul_panel_impl.h"
#include "kernels/matmul_panel_layout.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tf::kernels {

using panel_layout::legacy_block;
using panel_layout::LegacyBlock;

constexpr int64_t kScaleBytes = 2 * kPanelRows;

#if defined(__x86_64__)

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12 reports its own intrinsic headers (undefined upper halves) as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace {

struct ActRow {
    const BlockQ8_0* q;
    const float* d;
    const int32_t* sum;
};

ActRow act_row(const uint8_t* a, int64_t n) { return {reinterpret_cast<const BlockQ8_0*>(a), q8_0_act_scales(a, n), q8_0_act_sums(a, n)}; }

inline __m512 reduce8(const __m512* p) {
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[4]), _mm512_add_ps(p[2], p[6])),
                         _mm512_add_ps(_mm512_add_ps(p[1], p[5]), _mm512_add_ps(p[3], p[7])));
}

// The block's 8 weight vectors (unsigned bytes, one 4-element group each). Q4_0's high nibbles
// stay in place (16·v, no shift): block() divides their sums by 16, exactly.
template <bool kQ8>
inline void load_block(const uint8_t* src, __m512i* wv) {
    if constexpr (kQ8) {
        for (int g = 0; g < 8; ++g) wv[g] = _mm512_loadu_si512(src + g * 64);
    } else {
        const __m512i low = _mm512_set1_epi8(0x0F);
        for (int g = 0; g < 4; ++g) {
            const __m512i v = _mm512_loadu_si512(src + g * 64);
            wv[g] = _mm512_and_si512(v, low);
            wv[g + 4] = _mm512_andnot_si512(low, v);
        }
    }
}

// One block for T tokens: the 16 rows' exact sums, then dot()'s float step into p[t][k].
// Software prefetch this far ahead of the block being read (the hardware prefetcher alone fell
// behind on a busy host: bench/README.md).
constexpr int64_t kPrefetchAhead = 4096;

template <bool kQ8, int T>
inline void block(__m512 (&p)[T][8], int k, const uint8_t* src, const uint8_t* scales, const ActRow* y, int64_t b) {
    constexpr int kBias = kQ8 ? 128 : 8;
    // The block's share of the stream (8.5 or 4.5 lines), kPrefetchAhead further on.
    for (int l = 0; l < (kQ8 ? 9 : 5); ++l) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead + 64 * l), _MM_HINT_T0);
    __m512i wv[8];
    load_block<kQ8>(src, wv);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales)));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        const int8_t* yq = y[t].q[b].qs;
        // Two dependency chains (integer sums are exact in any order; the unrolled blocks and
        // tokens give the core enough independent chains): groups 0-3 in `low`, which starts from
        // the bias term, groups 4-7 (Q4_0: the 16·v high nibbles) in `high`.
        __m512i low = _mm512_set1_epi32(-kBias * y[t].sum[b]), high = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            int32_t four;
            std::memcpy(&four, yq + 4 * g, 4);
            if (g < 4) low = _mm512_dpbusd_epi32(low, wv[g], _mm512_set1_epi32(four));
            else high = _mm512_dpbusd_epi32(high, wv[g], _mm512_set1_epi32(four));
        }
        if constexpr (!kQ8) high = _mm512_srai_epi32(high, 4);
        const __m512i isum = _mm512_add_epi32(low, high);
        p[t][k] = _mm512_add_ps(p[t][k], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(y[t].d[b]))));
    }
}

template <bool kQ8, int T>
void tokens(const uint8_t* panel, __mmask16 rows, int64_t n, const uint8_t* a, int64_t a_stride, float* out, int64_t out_stride) {
    const int64_t nb = n / 32, bpb = (kQ8 ? 8 : 4) * 64 + kScaleBytes;
    ActRow y[T];
    for (int t = 0; t < T; ++t) y[t] = act_row(a + t * a_stride, n);
    __m512 p[T][8];
    for (int t = 0; t < T; ++t) {
        for (int k = 0; k < 8; ++k) p[t][k] = _mm512_setzero_ps();
    }
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) {
            const LegacyBlock lb = legacy_block(b + k, nb, bpb - kScaleBytes);
            block<kQ8, T>(p, k, panel + lb.vectors, panel + lb.scales, y, b + k);
        }
    }
    for (; b < nb; ++b) {
        const LegacyBlock lb = legacy_block(b, nb, bpb - kScaleBytes);
        block<kQ8, T>(p, static_cast<int>(b % 8), panel + lb.vectors, panel + lb.scales, y, b);
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(out + t * out_stride, rows, reduce8(p[t]));
}

template <bool kQ8>
void panel_matmul_avx512(const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                         int64_t out_stride) {
    const __mmask16 rows = static_cast<__mmask16>((1u << n_rows) - 1);
    int64_t t = 0;
    for (; t + 2 <= n_tokens; t += 2) tokens<kQ8, 2>(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
    if (t < n_tokens) tokens<kQ8, 1>(panel, rows, n, a + t * a_stride, a_stride, out + t * out_stride, out_stride);
}

}  // namespace

#pragma GCC pop_options

bool has_panel_kernel(TensorType w) { return panel_type(w) && best_isa() == Isa::Avx512; }

void panel_matmul(TensorType w, const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                  int64_t out_stride) {
    if (w == TensorType::F16) panel_matmul_f16(panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
    else if (w == TensorType::Q4_K) panel_matmul_q4_k(panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
    else if (w == TensorType::Q6_K) panel_matmul_q6_k(panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
    else if (w == TensorType::Q8_0) panel_matmul_avx512<true>(panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
    else panel_matmul_avx512<false>(panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
}

#else

bool has_panel_kernel(TensorType) { return false; }
void panel_matmul(TensorType, const uint8_t*, int, int64_t, const uint8_t*, int64_t, int64_t, float*, int64_t) {}

#endif

}  // namespace tf::kernels
