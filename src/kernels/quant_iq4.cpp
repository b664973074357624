#include "kernels/quant_iq4.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/quant_math.h"
#include "util/half.h"

namespace tf::kernels {

namespace {

// One super-block: per-block scale search over 2*ntry+1 candidate scales, then (for more than one
// block) 6-bit block scales relative to a super-block scale and a final re-assignment of codes.
void quantize_iq4_superblock(int super_block_size, int block_size, const float* x, uint16_t* dh, uint8_t* q4,
                             uint16_t* scales_h, uint8_t* scales_l, float* scales, float* weight, uint8_t* L,
                             const int8_t* values, int ntry) {
    std::memset(q4, 0, static_cast<size_t>(super_block_size / 2));
    dh[0] = fp32_to_fp16(0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < super_block_size / block_size; ++ib) {
        const float* xb = x + ib * block_size;
        uint8_t* Lb = L + ib * block_size;
        for (int j = 0; j < block_size; ++j) weight[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < block_size; ++j) {
            float ax = std::fabs(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax < kGroupMaxEps) {
            scales[ib] = 0;
            continue;
        }
        float d = ntry > 0 ? -max / values[0] : max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < block_size; ++j) {
            float al = id * xb[j];
            int l = best_index_int8(16, values, al);
            Lb[j] = static_cast<uint8_t>(l);
            float q = values[l];
            float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; ++itry) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < block_size; ++j) {
                float al = id * xb[j];
                int l = best_index_int8(16, values, al);
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        float abs_d = std::fabs(d);
        if (abs_d > amax_scale) {
            amax_scale = abs_d;
            max_scale = d;
        }
    }
    if (super_block_size / block_size > 1) {
        int nb = super_block_size / block_size;
        std::memset(scales_h, 0, static_cast<size_t>((nb + 7) / 8) * sizeof(uint16_t));
        float d = -max_scale / 32;
        dh[0] = fp32_to_fp16(d);
        float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < nb; ++ib) {
            int l = nearest_int(id * scales[ib]);
            l = std::max(-32, std::min(31, l));
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            uint8_t* Lb = L + ib * block_size;
            const float* xb = x + ib * block_size;
            for (int j = 0; j < block_size; ++j) Lb[j] = static_cast<uint8_t>(best_index_int8(16, values, idl * xb[j]));
            l += 32;
            uint8_t l_l = static_cast<uint8_t>(l & 0xf);
            uint8_t l_h = static_cast<uint8_t>(l >> 4);
            if (ib % 2 == 0) scales_l[ib / 2] = l_l;
            else scales_l[ib / 2] |= static_cast<uint8_t>(l_l << 4);
            scales_h[ib / 8] |= static_cast<uint16_t>(l_h << 2 * (ib % 8));
        }
    } else {
        dh[0] = fp32_to_fp16(scales[0]);
        if (ntry > 0) {
            float id = scales[0] ? 1 / scales[0] : 0;
            for (int j = 0; j < super_block_size; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
        }
    }
    for (int i = 0; i < super_block_size / 32; ++i) {
        for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }
}

}  // namespace

void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t k) {
    uint8_t L[QK4_NL];
    float weight[QK4_NL];
    float scale;
    uint16_t unused_h;
    for (int64_t i = 0; i < k / QK4_NL; ++i, x += QK4_NL) {
        quantize_iq4_superblock(QK4_NL, 32, x, &y[i].d, y[i].qs, &unused_h, nullptr, &scale, weight, L, kIq4nlValues, 7);
    }
}

void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t k) {
    uint8_t L[QK_K];
    float weight[32];
    float scales[QK_K / 32];
    for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
        uint16_t scales_h = 0;
        quantize_iq4_superblock(QK_K, 32, x, &y[i].d, y[i].qs, &scales_h, y[i].scales_l, scales, weight, L,
                                kIq4nlValues, 7);
        y[i].scales_h = scales_h;
    }
}

void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK4_NL; ++i, y += QK4_NL) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_NL / 2; ++j) {
            y[j] = d * kIq4nlValues[x[i].qs[j] & 0xf];
            y[j + QK4_NL / 2] = d * kIq4nlValues[x[i].qs[j] >> 4];
        }
    }
}

void dequantize_row_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const uint8_t* qs = x[i].qs;
        const float d = fp16_to_fp32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ++ib) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j + 0] = dl * kIq4nlValues[qs[j] & 0xf];
                y[j + 16] = dl * kIq4nlValues[qs[j] >> 4];
            }
            y += 32;
            qs += 16;
        }
    }
}

}  // namespace tf::kernels
