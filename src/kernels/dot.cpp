#include "kernels/dot.h"

#include "kernels/blocks.h"
#include "kernels/convert.h"
#include "kernels/quant_act.h"
#include "kernels/quant_legacy.h"
#include "util/half.h"

#include <cstdlib>
#include <cstring>

namespace tf::kernels {

TensorType activation_type(TensorType w) {
    switch (w) {
        case TensorType::F32: return TensorType::F32;
        case TensorType::F16: return TensorType::F16;
        case TensorType::BF16: return TensorType::BF16;
        case TensorType::Q4_1:
        case TensorType::Q5_1: return TensorType::Q8_1;
        case TensorType::Q2_K:
        case TensorType::Q3_K:
        case TensorType::Q4_K:
        case TensorType::Q5_K:
        case TensorType::Q6_K:
        case TensorType::IQ4_XS: return TensorType::Q8_K;
        default: return TensorType::Q8_0;
    }
}

bool has_dot(TensorType w) { return scalar::dot_kernel(w) != nullptr; }

Isa preferred_isa(TensorType w) {
    const Isa best = best_isa();
    const char* forced = std::getenv("TF_ISA");
    if (best == Isa::Avx512 && (forced == nullptr || *forced == 0) &&
        (w == TensorType::Q2_K || w == TensorType::Q3_K || w == TensorType::Q4_K || w == TensorType::Q5_K || w == TensorType::Q6_K)) {
        return Isa::Avx2;
    }
    return best;
}

DotFn dot_kernel(TensorType w, Isa isa) {
    if (isa == Isa::Avx512 && isa_supported(Isa::Avx512)) {
        if (DotFn f = avx512::dot_kernel(w)) return f;
        isa = Isa::Avx2;
    }
    if (isa == Isa::Avx2 && isa_supported(Isa::Avx2)) {
        if (DotFn f = avx2::dot_kernel(w)) return f;
    }
    return scalar::dot_kernel(w);
}

int64_t activation_row_bytes(TensorType w, int64_t n) {
    const TensorType at = activation_type(w);
    const int64_t base = static_cast<int64_t>(*tensor_row_bytes(at, static_cast<uint64_t>(n)));
    if (at == TensorType::F16) return f16_act_half_bytes(n) + 4 * n;
    return at == TensorType::Q8_0 ? q8_0_act_blocks_bytes(n) + n / 32 * 8 : base;
}

void quantize_activations(TensorType w, const float* x, void* out, int64_t n) {
    const TensorType at = activation_type(w);
    static const bool vector = best_isa() == Isa::Avx512;
    if (vector && at == TensorType::Q8_0) {
        auto* bytes = static_cast<uint8_t*>(out);
        const int64_t blocks = q8_0_act_blocks_bytes(n);
        for (int64_t i = n / 32 * 34; i < blocks; ++i) bytes[i] = 0;
        avx512::quantize_act_q8_0(x, static_cast<BlockQ8_0*>(out), reinterpret_cast<float*>(bytes + blocks),
                                  reinterpret_cast<int32_t*>(bytes + blocks + n / 32 * 4), n);
        return;
    }
    if (vector && at == TensorType::Q8_K) {
        avx512::quantize_act_q8_k(x, static_cast<BlockQ8_K*>(out), n);
        return;
    }
    if (at == TensorType::Q8_0) quantize_act_row_q8_0(x, static_cast<BlockQ8_0*>(out), n);
    else if (at == TensorType::Q8_1) quantize_act_row_q8_1(x, static_cast<BlockQ8_1*>(out), n);
    else quantize_row(at, x, out, n);
    if (at == TensorType::F16) {
        const auto* half = static_cast<const uint16_t*>(out);
        auto* floats = reinterpret_cast<float*>(static_cast<uint8_t*>(out) + f16_act_half_bytes(n));
        for (int64_t i = 2 * n; i < f16_act_half_bytes(n); ++i) static_cast<uint8_t*>(out)[i] = 0;
        for (int64_t i = 0; i < n; ++i) floats[i] = fp16_to_fp32(half[i]);
        return;
    }
    if (at != TensorType::Q8_0) return;
    for (int64_t i = n / 32 * 34; i < q8_0_act_blocks_bytes(n); ++i) static_cast<uint8_t*>(out)[i] = 0;
    const auto* blocks = static_cast<const BlockQ8_0*>(out);
    auto* bytes = static_cast<uint8_t*>(out);
    for (int64_t b = 0; b < n / 32; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        int32_t sum = 0;
        for (int j = 0; j < 32; ++j) sum += blocks[b].qs[j];
        std::memcpy(bytes + q8_0_act_blocks_bytes(n) + 4 * b, &d, 4);
        std::memcpy(bytes + q8_0_act_blocks_bytes(n) + n / 32 * 4 + 4 * b, &sum, 4);
    }
}

}  // namespace tf::kernels
