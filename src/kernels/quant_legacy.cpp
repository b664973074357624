#include "kernels/quant_legacy.h"

#include <algorithm>
#include <cmath>
#include <cfloat>
#include <cstring>

#include "util/half.h"

namespace tf::kernels {

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k) {
    const int64_t nb = k / QK4_0;
    for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
        float amax = 0.0f, max = 0.0f;  // max keeps its sign: the scale maps it to -8 exactly
        for (int j = 0; j < QK4_0; ++j) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            const uint8_t xi0 = static_cast<uint8_t>(std::min<int8_t>(15, static_cast<int8_t>(x[j] * id + 8.5f)));
            const uint8_t xi1 =
                static_cast<uint8_t>(std::min<int8_t>(15, static_cast<int8_t>(x[QK4_0 / 2 + j] * id + 8.5f)));
            y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
        }
    }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t k) {
    const int64_t nb = k / QK4_1;
    for (int64_t i = 0; i < nb; ++i, x += QK4_1) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK4_1; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / ((1 << 4) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            const uint8_t xi0 = std::min<uint8_t>(15, static_cast<uint8_t>((x[j] - min) * id + 0.5f));
            const uint8_t xi1 = std::min<uint8_t>(15, static_cast<uint8_t>((x[QK4_1 / 2 + j] - min) * id + 0.5f));
            y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
        }
    }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t k) {
    const int64_t nb = k / QK5_0;
    for (int64_t i = 0; i < nb; ++i, x += QK5_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK5_0; ++j) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const uint8_t xi0 = static_cast<uint8_t>(std::min<int8_t>(31, static_cast<int8_t>(x[j] * id + 16.5f)));
            const uint8_t xi1 =
                static_cast<uint8_t>(std::min<int8_t>(31, static_cast<int8_t>(x[QK5_0 / 2 + j] * id + 16.5f)));
            y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK5_0 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t k) {
    const int64_t nb = k / QK5_1;
    for (int64_t i = 0; i < nb; ++i, x += QK5_1) {
        float min = x[0], max = x[0];
        for (int j = 1; j < QK5_1; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const uint8_t xi0 = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
            const uint8_t xi1 = static_cast<uint8_t>((x[QK5_1 / 2 + j] - min) * id + 0.5f);
            y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK5_1 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k) {
    const int64_t nb = k / QK8_0;
    for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
    }
}

void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t k) {
    const int64_t nb = k / QK8_1;
    for (int64_t i = 0; i < nb; ++i, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1 / 2; ++j) {
            const float v0 = x[j] * id, v1 = x[QK8_1 / 2 + j] * id;
            y[i].qs[j] = static_cast<int8_t>(std::roundf(v0));
            y[i].qs[QK8_1 / 2 + j] = static_cast<int8_t>(std::roundf(v1));
            sum += y[i].qs[j] + y[i].qs[QK8_1 / 2 + j];
        }
        y[i].s = fp32_to_fp16(sum * d);
    }
}

namespace {

// One block's amax, d (as stored) and quants, the x86 way.
float act_block(const float* x, int8_t* q, uint16_t* d_out) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    *d_out = fp32_to_fp16(d);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
    return d;
}

}  // namespace

void quantize_act_row_q8_0(const float* x, BlockQ8_0* y, int64_t k) {
    for (int64_t i = 0; i < k / 32; ++i, x += 32) act_block(x, y[i].qs, &y[i].d);
}

void quantize_act_row_q8_1(const float* x, BlockQ8_1* y, int64_t k) {
    for (int64_t i = 0; i < k / 32; ++i, x += 32) {
        const float d = act_block(x, y[i].qs, &y[i].d);
        int32_t sum = 0;
        for (int j = 0; j < 32; ++j) sum += y[i].qs[j];
        y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
    }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK4_0; ++i, y += QK4_0) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            y[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK4_1; ++i, y += QK4_1) {
        const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            y[j] = (x[i].qs[j] & 0x0F) * d + m;
            y[j + QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK5_0; ++i, y += QK5_0) {
        const float d = fp16_to_fp32(x[i].d);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof(qh));
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const uint8_t xh0 = static_cast<uint8_t>(((qh >> (j + 0)) << 4) & 0x10);
            const uint8_t xh1 = static_cast<uint8_t>(((qh >> (j + 12))) & 0x10);
            y[j] = (((x[i].qs[j] & 0x0F) | xh0) - 16) * d;
            y[j + QK5_0 / 2] = (((x[i].qs[j] >> 4) | xh1) - 16) * d;
        }
    }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK5_1; ++i, y += QK5_1) {
        const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof(qh));
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const uint8_t xh0 = static_cast<uint8_t>(((qh >> (j + 0)) << 4) & 0x10);
            const uint8_t xh1 = static_cast<uint8_t>(((qh >> (j + 12))) & 0x10);
            y[j] = ((x[i].qs[j] & 0x0F) | xh0) * d + m;
            y[j + QK5_1 / 2] = ((x[i].qs[j] >> 4) | xh1) * d + m;
        }
    }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK8_0; ++i, y += QK8_0) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_0; ++j) y[j] = x[i].qs[j] * d;
    }
}

}  // namespace tf::kernels
