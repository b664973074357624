// Per-block float formulas and lane reductions shared by every ISA's dot kernels: the exact
// integer sums may be computed any way, but these turn them into floats identically everywhere.
#pragma once

#include <cstdint>

namespace tf::kernels {

// Q4_0, Q5_0, Q8_0, IQ4_NL (with Q8_0 activations), Q3_K, Q6_K, IQ4_XS (with Q8_K): r = d * isum.
inline float block_result(float d_w, float d_a, int32_t isum) { return static_cast<float>(isum) * (d_w * d_a); }

// Q4_1, Q5_1 with Q8_1: r = (d_w*d_a)*isum + m_w*s_a.
inline float block_result_min(float d_w, float d_a, int32_t isum, float m_w, float s_a) {
    return static_cast<float>(isum) * (d_w * d_a) + m_w * s_a;
}

// Q2_K, Q4_K, Q5_K with Q8_K: r = (d_w*d_a)*isum - (dmin_w*d_a)*imins.
inline float block_result_kmin(float d_w, float dmin_w, float d_a, int32_t isum, int32_t imins) {
    return static_cast<float>(isum) * (d_w * d_a) - static_cast<float>(imins) * (dmin_w * d_a);
}

inline float reduce_lanes8(const float* p) {
    return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

// 32 lanes: first fold lane l + 8k (k = 0..3) as (p_l + p_{8+l}) + (p_{16+l} + p_{24+l}), then reduce_lanes8.
inline float reduce_lanes32(const float* p) {
    float q[8];
    for (int l = 0; l < 8; ++l) q[l] = (p[l] + p[8 + l]) + (p[16 + l] + p[24 + l]);
    return reduce_lanes8(q);
}

}  // namespace tf::kernels
