#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/ops_simd.h"
#include "util/half.h"

namespace tf::kernels {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i] * scale;
        out[i] = weight != nullptr ? v * weight[i] : v;
    }
}

void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, float eps, float* out) {
    // ggml's norm on an AVX-512 build: the mean from a double sum rounded to float, then divided;
    // the squares in 16-lane blocks, each block reduced in float in _mm512_reduce_add_ps's tree
    // and added in double, the tail one by one.
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
    const float mean = static_cast<float>(sum) / static_cast<float>(n);
    double sum2 = 0.0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float sq[16];
        for (int l = 0; l < 16; ++l) {
            const float v = x[i + l] - mean;
            out[i + l] = v;
            sq[l] = v * v;
        }
        float t8[8], t4[4];
        for (int l = 0; l < 8; ++l) t8[l] = sq[l + 8] + sq[l];
        for (int l = 0; l < 4; ++l) t4[l] = t8[l + 4] + t8[l];
        sum2 += static_cast<double>((t4[0] + t4[2]) + (t4[1] + t4[3]));
    }
    for (; i < n; ++i) {
        const float v = x[i] - mean;
        out[i] = v;
        sum2 += static_cast<double>(v * v);
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum2 / static_cast<double>(n)) + eps);
    for (int64_t k = 0; k < n; ++k) {
        float v = out[k] * scale;
        if (weight != nullptr) v *= weight[k];
        if (bias != nullptr) v += bias[k];
        out[k] = v;
    }
}

void rope_yarn_corr_dims(int n_rot, int n_ctx_orig, float freq_base, float beta_fast, float beta_slow, float dims[2]) {
    auto corr_dim = [&](float n_rotations) {
        return static_cast<float>(n_rot) *
               std::log(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * static_cast<float>(M_PI))) /
               (2.0f * std::log(freq_base));
    };
    const float start = std::floor(corr_dim(beta_fast)), end = std::ceil(corr_dim(beta_slow));
    dims[0] = std::max(0.0f, start);
    dims[1] = std::min(static_cast<float>(n_rot - 1), end);
}

void rope_angles(int64_t pos, const RopeParams& p, float* cs) {
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    float theta = static_cast<float>(pos);
    for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
        const float ff = p.freq_factors != nullptr ? p.freq_factors[i0 / 2] : 1.0f;
        const float extrap = theta / ff;
        float angle = p.freq_scale * extrap;
        float mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
            const float y =
                static_cast<float>(i0 / 2 - p.corr_dims[0]) / std::max(0.001f, p.corr_dims[1] - p.corr_dims[0]);
            const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
            // Fused where ggml's compiler contracts (its rope is plain C++ built with FMA).
            angle = std::fma(angle, 1.0f - ramp, extrap * ramp);
            mscale *= std::fma(0.1f, std::log(1.0f / p.freq_scale), 1.0f);
        }
        cs[i0] = std::cos(angle) * mscale;
        cs[i0 + 1] = std::sin(angle) * mscale;
        theta *= theta_scale;
    }
}

namespace {

// Fused as ggml's compiler contracts these (its rope is plain C++ built with FMA contraction):
// the same bits as llama.cpp's rotated queries and keys.
#define TF_ROPE_ROTATE(FMA)                                   \
    for (int i0 = 0; i0 < p.n_rot; i0 += 2) {                 \
        const float c = cs[i0], s = cs[i0 + 1];               \
        const int a = p.neox ? i0 / 2 : i0;                   \
        const int b = p.neox ? i0 / 2 + p.n_rot / 2 : i0 + 1; \
        const float x0 = x[a], x1 = x[b];                     \
        x[a] = FMA(x0, c, -(x1 * s));                         \
        x[b] = FMA(x0, s, x1 * c);                            \
    }

// With the FMA instruction inline (std::fma is a library call in the portable build).
__attribute__((target("fma"))) void rope_rotate_fma(float* x, const float* cs, const RopeParams& p) {
    TF_ROPE_ROTATE(__builtin_fmaf)
}
void rope_rotate_libm(float* x, const float* cs, const RopeParams& p) {
    TF_ROPE_ROTATE(std::fma)
}
#undef TF_ROPE_ROTATE

}  // namespace

void rope_apply(float* x, const float* cs, const RopeParams& p) {
    static const bool fma = isa_supported(Isa::Avx2);
    if (fma)
        rope_rotate_fma(x, cs, p);
    else
        rope_rotate_libm(x, cs, p);
}

void rope(float* x, int64_t pos, const RopeParams& p) {
    std::vector<float> cs(static_cast<size_t>(p.n_rot));
    rope_angles(pos, p, cs.data());
    rope_apply(x, cs.data(), p);
}

void softmax(float* x, int64_t n, float sink) {
    // The same maximum as std::fmax (a NaN never replaces it), without a libm call per element.
    float max = sink;
    for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
    double sum = sink == -INFINITY ? 0.0 : std::exp(sink - max);
    for (int64_t i = 0; i < n; ++i) {
        const float e = x[i] == -INFINITY ? 0.0f : std::exp(x[i] - max);
        x[i] = e;
        sum += e;
    }
    const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float ggml_expf(float x) {
    // e^x = 2^n * e^b with n = round(x / ln 2) (the 1.5 * 2^23 shifter rounds) and
    // b = x - n ln 2 (ln 2 in two parts), e^b a degree-5 polynomial.
    const float shifter = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, shifter);
    const float n = z - shifter;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j =
        std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                 u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    if (std::isnan(n)) return n;
    if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    return std::ldexp(j, static_cast<int>(n));
}

void swiglu_oai(const float* gate, const float* up, int64_t n, float alpha, float limit, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = std::min(gate[i], limit);
        const float u = std::clamp(up[i], -limit, limit);
        out[i] = g / (1.0f + std::exp(alpha * (-g))) * (u + 1.0f);
    }
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
    static const Isa isa = best_isa();
    int64_t i = 0;
    if (isa == Isa::Avx512)
        i = avx512::swiglu(gate, up, n, out);
    else if (isa == Isa::Avx2)
        i = avx2::swiglu(gate, up, n, out);
    for (; i < n; ++i) {
        const float g = gate[i];
        out[i] = (g / (1.0f + ggml_expf(0.0f - g))) * up[i];
    }
}

namespace {

// GELU in its tanh form at half precision, as ggml fills its table: |g| >= 10 short-cuts to 0 or g.
float gelu_table(float g) {
    constexpr float kCoefA = 0.044715f;
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    if (g <= -10.0f) return 0.0f;
    if (g >= 10.0f) return g;
    const float h = fp16_to_fp32(fp32_to_fp16(g));
    // 1 + a·h·h fused, as ggml's compiler contracts it when it fills its GELU table.
    const float gelu = 0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * std::fma(kCoefA * h, h, 1.0f)));
    return fp16_to_fp32(fp32_to_fp16(gelu));
}

}  // namespace

void geglu(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = gelu_table(gate[i]) * up[i];
}

void gelu(const float* x, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = gelu_table(x[i]);
}

void softcap(float* x, int64_t n, float cap) {
    const float inv = 1.0f / cap;
    for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

void scale_in_place(float* x, float s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void add_in_place(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace tf::kernels
