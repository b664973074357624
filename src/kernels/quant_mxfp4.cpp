#include "kernels/quant_mxfp4.h"

#include <algorithm>
#include <cmath>

namespace tf::kernels {

namespace {

// Nearest level; ties keep the lower index (so +0 wins over -0), as llama.cpp's search does.
uint8_t nearest_level(float x, float d) {
    int best = 0;
    float best_err = std::fabs(kMxfp4Values[0] * d - x);
    for (int i = 1; i < 16; ++i) {
        const float err = std::fabs(kMxfp4Values[i] * d - x);
        if (err < best_err) best = i, best_err = err;
    }
    return static_cast<uint8_t>(best);
}

}  // namespace

void quantize_row_mxfp4(const float* x, BlockMXFP4* y, int64_t k) {
    for (int64_t i = 0; i < k / 32; ++i, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        // The largest level (6 = 2^2 * 1.5) lands at or above amax's power of two.
        const uint8_t e = amax > 0.0f ? static_cast<uint8_t>(std::floor(std::log2(amax)) - 2 + 127) : 0;
        const float d = mxfp4_scale(e);
        y[i].e = e;
        for (int j = 0; j < 16; ++j) {
            y[i].qs[j] = static_cast<uint8_t>(nearest_level(x[j], d) | nearest_level(x[j + 16], d) << 4);
        }
    }
}

void dequantize_row_mxfp4(const BlockMXFP4* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / 32; ++i, y += 32) {
        const float d = mxfp4_scale(x[i].e);
        for (int j = 0; j < 16; ++j) {
            y[j] = kMxfp4Values[x[i].qs[j] & 0x0F] * d;
            y[j + 16] = kMxfp4Values[x[i].qs[j] >> 4] * d;
        }
    }
}

}  // namespace tf::kernels
