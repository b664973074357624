// The scalar dot kernels: the readable specification every SIMD path is tested against.
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/dot.h"
#include "kernels/dot_blocks.h"
#include "kernels/quant_k.h"
#include "util/half.h"

namespace tf::kernels::scalar {

namespace {

float dot_f32(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const float*>(w);
    auto y = static_cast<const float*>(a);
    float p[32] = {};
    for (int64_t i = 0; i < n; ++i) p[i % 32] += x[i] * y[i];
    return reduce_lanes32(p);
}

template <float (*Convert)(uint16_t)>
float dot_half(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const uint16_t*>(w);
    auto y = static_cast<const uint16_t*>(a);
    float p[32] = {};
    for (int64_t i = 0; i < n; ++i) p[i % 32] += Convert(x[i]) * Convert(y[i]);
    return reduce_lanes32(p);
}

float dot_f16(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const uint16_t*>(w);
    auto y = static_cast<const uint16_t*>(a);
    float p[8] = {};
    for (int64_t i = 0; i < n; ++i) p[i % 8] = std::fma(fp16_to_fp32(x[i]), fp16_to_fp32(y[i]), p[i % 8]);
    return reduce_lanes8(p);
}

float dot_q4_0(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ4_0*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK4_0; ++b) {
        int32_t isum = 0;
        for (int j = 0; j < 16; ++j) {
            isum += ((x[b].qs[j] & 0x0F) - 8) * y[b].qs[j];
            isum += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
        }
        p[b % 8] += block_result(fp16_to_fp32(x[b].d), fp16_to_fp32(y[b].d), isum);
    }
    return reduce_lanes8(p);
}

float dot_q4_1(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ4_1*>(w);
    auto y = static_cast<const BlockQ8_1*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK4_1; ++b) {
        int32_t isum = 0;
        for (int j = 0; j < 16; ++j) {
            isum += (x[b].qs[j] & 0x0F) * y[b].qs[j];
            isum += (x[b].qs[j] >> 4) * y[b].qs[j + 16];
        }
        p[b % 8] += block_result_min(fp16_to_fp32(x[b].d), fp16_to_fp32(y[b].d), isum, fp16_to_fp32(x[b].m),
                                     fp16_to_fp32(y[b].s));
    }
    return reduce_lanes8(p);
}

float dot_q5_0(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ5_0*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK5_0; ++b) {
        uint32_t qh;
        std::memcpy(&qh, x[b].qh, 4);
        int32_t isum = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = (x[b].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
            const int hi = (x[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            isum += (lo - 16) * y[b].qs[j] + (hi - 16) * y[b].qs[j + 16];
        }
        p[b % 8] += block_result(fp16_to_fp32(x[b].d), fp16_to_fp32(y[b].d), isum);
    }
    return reduce_lanes8(p);
}

float dot_q5_1(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ5_1*>(w);
    auto y = static_cast<const BlockQ8_1*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK5_1; ++b) {
        uint32_t qh;
        std::memcpy(&qh, x[b].qh, 4);
        int32_t isum = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = (x[b].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
            const int hi = (x[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            isum += lo * y[b].qs[j] + hi * y[b].qs[j + 16];
        }
        p[b % 8] += block_result_min(fp16_to_fp32(x[b].d), fp16_to_fp32(y[b].d), isum, fp16_to_fp32(x[b].m),
                                     fp16_to_fp32(y[b].s));
    }
    return reduce_lanes8(p);
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ8_0*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK8_0; ++b) {
        int32_t isum = 0;
        for (int j = 0; j < 32; ++j) isum += x[b].qs[j] * y[b].qs[j];
        p[b % 8] += block_result(fp16_to_fp32(x[b].d), fp16_to_fp32(y[b].d), isum);
    }
    return reduce_lanes8(p);
}

float dot_iq4_nl(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockIQ4_NL*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK4_NL; ++b) {
        int32_t isum = 0;
        for (int j = 0; j < 16; ++j) {
            isum += kIq4nlValues[x[b].qs[j] & 0xf] * y[b].qs[j] + kIq4nlValues[x[b].qs[j] >> 4] * y[b].qs[j + 16];
        }
        p[b % 8] += block_result(fp16_to_fp32(x[b].d), fp16_to_fp32(y[b].d), isum);
    }
    return reduce_lanes8(p);
}

float dot_mxfp4(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockMXFP4*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / 32; ++b) {
        int32_t isum = 0;
        for (int j = 0; j < 16; ++j) {
            isum += kMxfp4Values[x[b].qs[j] & 0xf] * y[b].qs[j] + kMxfp4Values[x[b].qs[j] >> 4] * y[b].qs[j + 16];
        }
        p[b % 8] += block_result(mxfp4_scale(x[b].e), fp16_to_fp32(y[b].d), isum);
    }
    return reduce_lanes8(p);
}

float dot_q2_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ2_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int32_t imins = 0;
        for (int j = 0; j < 16; ++j) imins += (x[b].scales[j] >> 4) * y[b].bsums[j];
        int32_t isum = 0;
        const uint8_t* q = x[b].qs;
        const int8_t* q8 = y[b].qs;
        int is = 0;
        for (int k = 0; k < QK_K / 128; ++k) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    int s = 0;
                    for (int l = 0; l < 16; ++l) s += q8[l] * ((q[l + 16 * half] >> shift) & 3);
                    isum += (x[b].scales[is++] & 0xF) * s;
                    q8 += 16;
                }
            }
            q += 32;
        }
        p[b % 8] += block_result_kmin(fp16_to_fp32(x[b].d), fp16_to_fp32(x[b].dmin), y[b].d, isum, imins);
    }
    return reduce_lanes8(p);
}

float dot_q3_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ3_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    int8_t scales[16];
    for (int64_t b = 0; b < n / QK_K; ++b) {
        unpack_q3_k_scales(x[b].scales, scales);
        const uint8_t* q = x[b].qs;
        const uint8_t* hm = x[b].hmask;
        const int8_t* q8 = y[b].qs;
        int32_t isum = 0;
        int is = 0;
        uint8_t m = 1;
        for (int k = 0; k < QK_K / 128; ++k) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    int s = 0;
                    for (int l = 0; l < 16; ++l) {
                        const int idx = l + 16 * half;
                        const int v = ((q[idx] >> shift) & 3) - ((hm[idx] & m) ? 0 : 4);
                        s += q8[l] * v;
                    }
                    isum += scales[is++] * s;
                    q8 += 16;
                }
                m = static_cast<uint8_t>(m << 1);
            }
            q += 32;
        }
        p[b % 8] += block_result(fp16_to_fp32(x[b].d), y[b].d, isum);
    }
    return reduce_lanes8(p);
}

// Q4_K and Q5_K (qh == nullptr for Q4_K): a super-block's exact scaled sum and mins sum.
inline void k4_sums(const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, const BlockQ8_K& y, int32_t* isum, int32_t* imins) {
    *isum = 0;
    *imins = 0;
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, scales, &sc, &m);
        *imins += m * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
        const uint8_t* q = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        int32_t s = 0;
        for (int e = 0; e < 32; ++e) {
            int v = (q[e] >> shift) & 0xF;
            if (qh != nullptr && (qh[e] >> j) & 1) v += 16;
            s += v * y.qs[32 * j + e];
        }
        *isum += sc * s;
    }
}

template <typename Block, bool kHigh>
float dot_k4(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const Block*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int32_t isum, imins;
        const uint8_t* qh = nullptr;
        if constexpr (kHigh) qh = x[b].qh;
        k4_sums(x[b].scales, x[b].qs, qh, y[b], &isum, &imins);
        p[b % 8] += block_result_kmin(fp16_to_fp32(x[b].d), fp16_to_fp32(x[b].dmin), y[b].d, isum, imins);
    }
    return reduce_lanes8(p);
}

float dot_q6_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ6_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int32_t isum = 0;
        for (int half = 0; half < 2; ++half) {
            const uint8_t* ql = x[b].ql + 64 * half;
            const uint8_t* qh = x[b].qh + 32 * half;
            const int8_t* sc = x[b].scales + 8 * half;
            const int8_t* q8 = y[b].qs + 128 * half;
            int s[8] = {};
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                s[is + 0] += q1 * q8[l];
                s[is + 2] += q2 * q8[l + 32];
                s[is + 4] += q3 * q8[l + 64];
                s[is + 6] += q4 * q8[l + 96];
            }
            for (int j = 0; j < 8; ++j) isum += sc[j] * s[j];
        }
        p[b % 8] += block_result(fp16_to_fp32(x[b].d), y[b].d, isum);
    }
    return reduce_lanes8(p);
}

float dot_iq4_xs(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockIQ4_XS*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float p[8] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int32_t isum = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = ((x[b].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[b].scales_h >> 2 * ib) & 3) << 4);
            const uint8_t* qs = x[b].qs + 16 * ib;
            const int8_t* q8 = y[b].qs + 32 * ib;
            int s = 0;
            for (int j = 0; j < 16; ++j) s += kIq4nlValues[qs[j] & 0xf] * q8[j] + kIq4nlValues[qs[j] >> 4] * q8[j + 16];
            isum += (ls - 32) * s;
        }
        p[b % 8] += block_result(fp16_to_fp32(x[b].d), y[b].d, isum);
    }
    return reduce_lanes8(p);
}

}  // namespace

DotFn dot_kernel(TensorType t) {
    switch (t) {
        case TensorType::F32: return dot_f32;
        case TensorType::F16: return dot_f16;
        case TensorType::BF16: return dot_half<bf16_to_fp32>;
        case TensorType::Q4_0: return dot_q4_0;
        case TensorType::Q4_1: return dot_q4_1;
        case TensorType::Q5_0: return dot_q5_0;
        case TensorType::Q5_1: return dot_q5_1;
        case TensorType::Q8_0: return dot_q8_0;
        case TensorType::IQ4_NL: return dot_iq4_nl;
        case TensorType::Q2_K: return dot_q2_k;
        case TensorType::Q3_K: return dot_q3_k;
        case TensorType::Q4_K: return dot_k4<BlockQ4_K, false>;
        case TensorType::Q5_K: return dot_k4<BlockQ5_K, true>;
        case TensorType::Q6_K: return dot_q6_k;
        case TensorType::IQ4_XS: return dot_iq4_xs;
        case TensorType::MXFP4: return dot_mxfp4;
        default: return nullptr;
    }
}

}  // namespace tf::kernels::scalar
