#include "kernels/convert.h"

#include <cstring>

#include "kernels/quant_iq4.h"
#include "kernels/quant_k.h"
#include "kernels/quant_legacy.h"
#include "kernels/quant_mxfp4.h"
#include "util/half.h"

namespace tf::kernels {

bool can_dequantize(TensorType t) {
    switch (t) {
        case TensorType::F32:
        case TensorType::F16:
        case TensorType::BF16:
        case TensorType::Q4_0:
        case TensorType::Q4_1:
        case TensorType::Q5_0:
        case TensorType::Q5_1:
        case TensorType::Q8_0:
        case TensorType::Q2_K:
        case TensorType::Q3_K:
        case TensorType::Q4_K:
        case TensorType::Q5_K:
        case TensorType::Q6_K:
        case TensorType::Q8_K:
        case TensorType::IQ4_NL:
        case TensorType::IQ4_XS:
        case TensorType::MXFP4:
            return true;
        default:
            return false;
    }
}

bool can_quantize(TensorType t) {
    return can_dequantize(t) || t == TensorType::Q8_1;
}

void dequantize_row(TensorType t, const void* src, float* dst, int64_t n) {
    switch (t) {
        case TensorType::F32:
            std::memcpy(dst, src, static_cast<size_t>(n) * 4);
            return;
        case TensorType::F16: {
            auto s = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
            return;
        }
        case TensorType::BF16: {
            auto s = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
            return;
        }
        case TensorType::Q4_0:
            return dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
        case TensorType::Q4_1:
            return dequantize_row_q4_1(static_cast<const BlockQ4_1*>(src), dst, n);
        case TensorType::Q5_0:
            return dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n);
        case TensorType::Q5_1:
            return dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n);
        case TensorType::Q8_0:
            return dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
        case TensorType::Q2_K:
            return dequantize_row_q2_k(static_cast<const BlockQ2_K*>(src), dst, n);
        case TensorType::Q3_K:
            return dequantize_row_q3_k(static_cast<const BlockQ3_K*>(src), dst, n);
        case TensorType::Q4_K:
            return dequantize_row_q4_k(static_cast<const BlockQ4_K*>(src), dst, n);
        case TensorType::Q5_K:
            return dequantize_row_q5_k(static_cast<const BlockQ5_K*>(src), dst, n);
        case TensorType::Q6_K:
            return dequantize_row_q6_k(static_cast<const BlockQ6_K*>(src), dst, n);
        case TensorType::Q8_K:
            return dequantize_row_q8_k(static_cast<const BlockQ8_K*>(src), dst, n);
        case TensorType::IQ4_NL:
            return dequantize_row_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n);
        case TensorType::IQ4_XS:
            return dequantize_row_iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, n);
        case TensorType::MXFP4:
            return dequantize_row_mxfp4(static_cast<const BlockMXFP4*>(src), dst, n);
        default:
            break;
    }
    std::memset(dst, 0, static_cast<size_t>(n) * 4);  // unreachable for callers that check can_dequantize
}

void quantize_row(TensorType t, const float* src, void* dst, int64_t n, const float* /*imatrix*/) {
    switch (t) {
        case TensorType::F32:
            std::memcpy(dst, src, static_cast<size_t>(n) * 4);
            return;
        case TensorType::F16: {
            auto d = static_cast<uint16_t*>(dst);
            for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
            return;
        }
        case TensorType::BF16: {
            auto d = static_cast<uint16_t*>(dst);
            for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
            return;
        }
        case TensorType::Q4_0:
            return quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
        case TensorType::Q4_1:
            return quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
        case TensorType::Q5_0:
            return quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
        case TensorType::Q5_1:
            return quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
        case TensorType::Q8_0:
            return quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
        case TensorType::Q8_1:
            return quantize_row_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
        case TensorType::Q2_K:
            return quantize_row_q2_k(src, static_cast<BlockQ2_K*>(dst), n);
        case TensorType::Q3_K:
            return quantize_row_q3_k(src, static_cast<BlockQ3_K*>(dst), n);
        case TensorType::Q4_K:
            return quantize_row_q4_k(src, static_cast<BlockQ4_K*>(dst), n);
        case TensorType::Q5_K:
            return quantize_row_q5_k(src, static_cast<BlockQ5_K*>(dst), n);
        case TensorType::Q6_K:
            return quantize_row_q6_k(src, static_cast<BlockQ6_K*>(dst), n);
        case TensorType::Q8_K:
            return quantize_row_q8_k(src, static_cast<BlockQ8_K*>(dst), n);
        case TensorType::IQ4_NL:
            return quantize_row_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), n);
        case TensorType::IQ4_XS:
            return quantize_row_iq4_xs(src, static_cast<BlockIQ4_XS*>(dst), n);
        case TensorType::MXFP4:
            return quantize_row_mxfp4(src, static_cast<BlockMXFP4*>(dst), n);
        default:
            break;
    }
}

}  // namespace tf::kernels
