#include "kernels/ops.h"

#include <cmath>

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

void rope(float* x, int64_t pos, const RopeParams& p) {
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    float theta = static_cast<float>(pos);
    for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
        const float ff = p.freq_factors != nullptr ? p.freq_factors[i0 / 2] : 1.0f;
        const float angle = p.freq_scale * (theta / ff);
        const float c = std::cos(angle), s = std::sin(angle);
        const int a = p.neox ? i0 / 2 : i0;
        const int b = p.neox ? i0 / 2 + p.n_rot / 2 : i0 + 1;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
        theta *= theta_scale;
    }
}

void softmax(float* x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const float e = x[i] == -INFINITY ? 0.0f : std::exp(x[i] - max);
        x[i] = e;
        sum += e;
    }
    const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = (g / (1.0f + std::exp(-g))) * up[i];
    }
}

void add_in_place(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace tf::kernels
