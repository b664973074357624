#include "kernels/dot.h"

#include "kernels/convert.h"

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

void quantize_activations(TensorType w, const float* x, void* out, int64_t n) {
    quantize_row(activation_type(w), x, out, n);
}

}  // namespace tf::kernels
