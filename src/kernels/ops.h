// Element-wise and row operations of the forward pass, model-agnostic. The arithmetic follows
// ggml's reference CPU code where it affects results (double-precision sums in RMSNorm and
// softmax, RoPE angles by repeated multiplication), so logits stay close to llama.cpp's.
#pragma once

#include <cstdint>

namespace tf::kernels {

// out = x / sqrt(mean(x²) + eps) * weight   (weight may be null)
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// Rotary position embedding of one head vector in place. n_rot leading dims are rotated;
// neox: pairs (i, i + n_rot/2), otherwise adjacent pairs (2i, 2i+1). freq_factors (n_rot/2,
// may be null) divide the angles (Llama 3.1 / LongRoPE); freq_scale multiplies them (linear).
struct RopeParams {
    int n_rot = 0;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;
    bool neox = false;
    const float* freq_factors = nullptr;
};
void rope(float* x, int64_t pos, const RopeParams& p);

// In place: x[i] = exp(x[i] - max) / Σ — the sum in double, as ggml does.
void softmax(float* x, int64_t n);

// out[i] = silu(gate[i]) * up[i]
void swiglu(const float* gate, const float* up, int64_t n, float* out);

void add_in_place(float* x, const float* y, int64_t n);

}  // namespace tf::kernels
