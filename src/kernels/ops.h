// Element-wise and row operations of the forward pass, model-agnostic. The arithmetic follows
// ggml's reference CPU code where it affects results (double-precision sums in RMSNorm and
// softmax, RoPE angles by repeated multiplication), so logits stay close to llama.cpp's.
#pragma once

#include <cmath>
#include <cstdint>

namespace tf::kernels {

// out = x / sqrt(mean(x²) + eps) * weight   (weight may be null)
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);
// LayerNorm (BERT): out = (x - mean) / sqrt(var + eps) * weight + bias, the sums in double as
// ggml's norm takes them; weight and bias may be null. out may be x.
void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, float eps, float* out);

// Rotary position embedding of one head vector in place. n_rot leading dims are rotated;
// neox: pairs (i, i + n_rot/2), otherwise adjacent pairs (2i, 2i+1). freq_factors (n_rot/2,
// may be null) divide the angles (Llama 3.1 / LongRoPE); freq_scale multiplies them (linear).
// YaRN (ext_factor != 0) blends interpolated and extrapolated angles between corr_dims and
// scales the magnitude; attn_factor multiplies cos and sin (LongRoPE's attention factor).
struct RopeParams {
    int n_rot = 0;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;
    bool neox = false;
    const float* freq_factors = nullptr;
    float ext_factor = 0.0f;
    float attn_factor = 1.0f;
    float corr_dims[2] = {0.0f, 0.0f};
};
void rope(float* x, int64_t pos, const RopeParams& p);
// rope() in two halves, so that a token's heads share one evaluation of the angles: cs receives
// n_rot/2 pairs (cos, sin), magnitude scale included; rope_apply(x, cs) equals rope(x, pos).
void rope_angles(int64_t pos, const RopeParams& p, float* cs);
void rope_apply(float* x, const float* cs, const RopeParams& p);

// YaRN's correction range: the dimensions whose wavelengths lie between beta_fast and
// beta_slow rotations over the original context.
void rope_yarn_corr_dims(int n_rot, int n_ctx_orig, float freq_base, float beta_fast, float beta_slow, float dims[2]);

// In place: x[i] = exp(x[i] - max) / Σ — the sum in double, as ggml does. A finite `sink` is
// one more logit in the normalization with no output of its own (gpt-oss's attention sinks: a
// head may attend to nothing).
void softmax(float* x, int64_t n, float sink = -INFINITY);

// out[i] = silu(gate[i]) * up[i], with silu(x) = x / (1 + e^-x) and e^x as ggml's vector
// expf approximation computes it (max error 1.45 ulp; every real model's feed-forward width is a
// multiple of its 16 lanes), so activations match llama.cpp's bit for bit.
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// gpt-oss's clamped variant (ggml's swiglu_oai): g = min(gate, limit), u = clamp(up, ±limit),
// out = g·σ(alpha·g)·(u + 1), with libm's e^x.
void swiglu_oai(const float* gate, const float* up, int64_t n, float alpha, float limit, float* out);
// That e^x, one value (the specification the vector path is tested against).
float ggml_expf(float x);

// out[i] = gelu(gate[i]) * up[i], GELU in its tanh form looked up at half precision (ggml's
// table): |gate| >= 10 short-cuts to 0 or gate.
void geglu(const float* gate, const float* up, int64_t n, float* out);
// out[i] = gelu(x[i]) from the same table (BERT's feed-forward, not gated).
void gelu(const float* x, int64_t n, float* out);

// In place: x[i] = cap * tanh(x[i] * (1 / cap)) (Gemma 2's logit soft-capping).
void softcap(float* x, int64_t n, float cap);

void scale_in_place(float* x, float s, int64_t n);

void add_in_place(float* x, const float* y, int64_t n);

}  // namespace tf::kernels
