#include "kernels/matmul_panel.h"

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "util/half.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tf::kernels {

namespace {

// Panel layout, nb = n / 32 blocks: for every block, 8 vectors of 64 bytes — vector g holds
// elements 4g..4g+3 of each row, row j in bytes 4j..4j+3, as unsigned bytes q + bias — then
// nb × 16 floats, the rows' block scales.
constexpr int64_t kBlockPanelBytes = 32 * kPanelRows;

int bias_of(TensorType w) { return w == TensorType::Q8_0 ? 128 : 8; }

}  // namespace

int64_t panel_bytes(TensorType, int64_t n) { return n / 32 * (kBlockPanelBytes + kPanelRows * 4); }

void pack_panel(TensorType type, const uint8_t* w, int64_t row_bytes, int n_rows, int64_t n, uint8_t* panel) {
    const int64_t nb = n / 32;
    auto* scales = reinterpret_cast<float*>(panel + nb * kBlockPanelBytes);
    std::memset(panel, 0, static_cast<size_t>(panel_bytes(type, n)));
    for (int j = 0; j < n_rows; ++j) {
        const uint8_t* row = w + j * row_bytes;
        for (int64_t b = 0; b < nb; ++b) {
            uint8_t q[32];
            uint16_t d;
            if (type == TensorType::Q8_0) {
                const auto& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
                for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(blk.qs[i] + 128);
                d = blk.d;
            } else {
                const auto& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
                for (int i = 0; i < 16; ++i) {
                    q[i] = blk.qs[i] & 0x0F;
                    q[i + 16] = static_cast<uint8_t>(blk.qs[i] >> 4);
                }
                d = blk.d;
            }
            uint8_t* dst = panel + b * kBlockPanelBytes;
            for (int g = 0; g < 8; ++g) std::memcpy(dst + g * 64 + j * 4, q + g * 4, 4);
            scales[b * kPanelRows + j] = fp16_to_fp32(d);
        }
    }
}

#if defined(__x86_64__)

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12 reports its own intrinsic headers (undefined upper halves) as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace {

// One block for one token: the 16 rows' exact sums, then dot()'s float step into acc.
inline __m512 block_step(__m512 acc, const uint8_t* wp, const BlockQ8_0& y, int32_t bias_sum, __m512 dw, float da) {
    __m512i isum = _mm512_setzero_si512();
    const int8_t* yq = y.qs;
    for (int g = 0; g < 8; ++g) {
        int32_t four;
        std::memcpy(&four, yq + 4 * g, 4);
        isum = _mm512_dpbusd_epi32(isum, _mm512_loadu_si512(wp + g * 64), _mm512_set1_epi32(four));
    }
    isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(bias_sum));
    return _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(da))));
}

// Two tokens share each weight vector load.
inline void block_step2(__m512& acc0, __m512& acc1, const uint8_t* wp, const BlockQ8_0& y0, const BlockQ8_0& y1, int32_t bs0, int32_t bs1,
                        __m512 dw, float da0, float da1) {
    __m512i i0 = _mm512_setzero_si512(), i1 = _mm512_setzero_si512();
    for (int g = 0; g < 8; ++g) {
        int32_t f0, f1;
        std::memcpy(&f0, y0.qs + 4 * g, 4);
        std::memcpy(&f1, y1.qs + 4 * g, 4);
        const __m512i wv = _mm512_loadu_si512(wp + g * 64);
        i0 = _mm512_dpbusd_epi32(i0, wv, _mm512_set1_epi32(f0));
        i1 = _mm512_dpbusd_epi32(i1, wv, _mm512_set1_epi32(f1));
    }
    i0 = _mm512_sub_epi32(i0, _mm512_set1_epi32(bs0));
    i1 = _mm512_sub_epi32(i1, _mm512_set1_epi32(bs1));
    acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(_mm512_cvtepi32_ps(i0), _mm512_mul_ps(dw, _mm512_set1_ps(da0))));
    acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(_mm512_cvtepi32_ps(i1), _mm512_mul_ps(dw, _mm512_set1_ps(da1))));
}

inline __m512 reduce8(const __m512* p) {
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[4]), _mm512_add_ps(p[2], p[6])),
                         _mm512_add_ps(_mm512_add_ps(p[1], p[5]), _mm512_add_ps(p[3], p[7])));
}

struct ActRow {
    const BlockQ8_0* q;
    const float* d;
    const int32_t* sum;
};

ActRow act_row(const uint8_t* a, int64_t n) { return {reinterpret_cast<const BlockQ8_0*>(a), q8_0_act_scales(a, n), q8_0_act_sums(a, n)}; }

void panel_matmul_avx512(int bias, const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                         int64_t out_stride) {
    const int64_t nb = n / 32;
    const auto* scales = reinterpret_cast<const float*>(panel + nb * kBlockPanelBytes);
    const __mmask16 rows = static_cast<__mmask16>((1u << n_rows) - 1);
    int64_t t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
        const ActRow y0 = act_row(a + t * a_stride, n), y1 = act_row(a + (t + 1) * a_stride, n);
        __m512 p0[8], p1[8];
        for (int k = 0; k < 8; ++k) p0[k] = p1[k] = _mm512_setzero_ps();
        int64_t b = 0;
        for (; b + 8 <= nb; b += 8) {
#pragma GCC unroll 8
            for (int k = 0; k < 8; ++k) {
                block_step2(p0[k], p1[k], panel + (b + k) * kBlockPanelBytes, y0.q[b + k], y1.q[b + k], bias * y0.sum[b + k], bias * y1.sum[b + k],
                            _mm512_loadu_ps(scales + (b + k) * kPanelRows), y0.d[b + k], y1.d[b + k]);
            }
        }
        for (; b < nb; ++b) {
            const int k = static_cast<int>(b % 8);
            block_step2(p0[k], p1[k], panel + b * kBlockPanelBytes, y0.q[b], y1.q[b], bias * y0.sum[b], bias * y1.sum[b],
                        _mm512_loadu_ps(scales + b * kPanelRows), y0.d[b], y1.d[b]);
        }
        _mm512_mask_storeu_ps(out + t * out_stride, rows, reduce8(p0));
        _mm512_mask_storeu_ps(out + (t + 1) * out_stride, rows, reduce8(p1));
    }
    for (; t < n_tokens; ++t) {
        const ActRow y = act_row(a + t * a_stride, n);
        __m512 p[8];
        for (int k = 0; k < 8; ++k) p[k] = _mm512_setzero_ps();
        for (int64_t b = 0; b < nb; ++b) {
            p[b % 8] = block_step(p[b % 8], panel + b * kBlockPanelBytes, y.q[b], bias * y.sum[b], _mm512_loadu_ps(scales + b * kPanelRows), y.d[b]);
        }
        _mm512_mask_storeu_ps(out + t * out_stride, rows, reduce8(p));
    }
}

}  // namespace

#pragma GCC pop_options

bool has_panel_kernel(TensorType w) {
    return (w == TensorType::Q8_0 || w == TensorType::Q4_0) && preferred_isa(w) == Isa::Avx512;
}

void panel_matmul(TensorType w, const uint8_t* panel, int n_rows, int64_t n, const uint8_t* a, int64_t a_stride, int64_t n_tokens, float* out,
                  int64_t out_stride) {
    panel_matmul_avx512(bias_of(w), panel, n_rows, n, a, a_stride, n_tokens, out, out_stride);
}

#else

bool has_panel_kernel(TensorType) { return false; }
void panel_matmul(TensorType, const uint8_t*, int, int64_t, const uint8_t*, int64_t, int64_t, float*, int64_t) {}

#endif

}  // namespace tf::kernels
