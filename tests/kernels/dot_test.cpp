// Every SIMD dot kernel returns exactly the scalar kernel's float (the lane contract of dot.h),
// and the scalar kernel computes the dot product of the dequantized rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/convert.h"
#include "kernels/quant_k.h"
#include "kernels/blocks.h"
#include "kernels/dot.h"
#include "util/half.h"

namespace {

using tf::TensorType;
using namespace tf::kernels;

const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                             TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                             TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                             TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::MXFP4};

struct Row {
    std::vector<uint8_t> bytes;
    std::vector<float> dequantized;
};

Row make_row(TensorType type, int64_t n, std::mt19937& rng, float scale) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = dist(rng);
    if (n > 3) x[3] = 5 * scale;  // an outlier, as real weights have
    Row r;
    r.bytes.resize(*tf::tensor_row_bytes(type, static_cast<uint64_t>(n)));
    quantize_row(type, x.data(), r.bytes.data(), n);
    r.dequantized.resize(static_cast<size_t>(n));
    dequantize_row(type == TensorType::Q8_1 ? TensorType::Q8_0 : type, r.bytes.data(), r.dequantized.data(), n);
    return r;
}

std::vector<int64_t> sizes_for(TensorType t) {
    const int64_t bs = tf::tensor_type_info(t).block_size;
    if (bs == 1) return {1, 7, 31, 32, 33, 63, 4097};
    return {bs, 3 * bs, 7 * bs, 8 * bs, 9 * bs, 17 * bs, 4096 / bs * bs + (bs == 32 ? 32 : 0)};
}

TEST(Dot, simd_paths_equal_scalar_bit_for_bit) {
    std::mt19937 rng(1234);
    for (TensorType t : kTypes) {
        for (int64_t n : sizes_for(t)) {
            for (int trial = 0; trial < 4; ++trial) {
                Row w = make_row(t, n, rng, 0.02f);
                std::vector<float> act(static_cast<size_t>(n));
                std::normal_distribution<float> d(0.0f, 1.0f);
                for (auto& v : act) v = d(rng);
                std::vector<uint8_t> qa(static_cast<size_t>(activation_row_bytes(t, n)));
                quantize_activations(t, act.data(), qa.data(), n);
                const float ref = scalar::dot_kernel(t)(n, w.bytes.data(), qa.data());
                for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                    if (!isa_supported(isa)) continue;
                    const float got = dot_kernel(t, isa)(n, w.bytes.data(), qa.data());
                    ASSERT_EQ(std::memcmp(&got, &ref, 4), 0) << tf::tensor_type_name(t) << " n=" << n << " "
                                                             << isa_name(isa) << ": " << got << " vs " << ref;
                }
            }
        }
    }
}

TEST(Dot, scalar_kernel_is_the_dot_of_the_dequantized_rows) {
    std::mt19937 rng(99);
    for (TensorType t : kTypes) {
        const int64_t n = tf::tensor_type_info(t).block_size == 1 ? 1000 : 1024;
        Row w = make_row(t, n, rng, 0.02f);
        std::vector<float> act(static_cast<size_t>(n));
        std::normal_distribution<float> d(0.0f, 1.0f);
        for (auto& v : act) v = d(rng);
        const TensorType at = activation_type(t);
        std::vector<uint8_t> qa(static_cast<size_t>(activation_row_bytes(t, n)));
        quantize_activations(t, act.data(), qa.data(), n);
        std::vector<float> a_deq(static_cast<size_t>(n));
        dequantize_row(at == TensorType::Q8_1 ? TensorType::Q8_0 : at, qa.data(), a_deq.data(), n);
        if (at == TensorType::Q8_1) {  // Q8_1 shares Q8_0's quants after its extra sum field
            for (int64_t b = 0; b < n / 32; ++b) {
                const auto* blk = reinterpret_cast<const BlockQ8_1*>(qa.data()) + b;
                for (int j = 0; j < 32; ++j) a_deq[b * 32 + j] = blk->qs[j] * tf::fp16_to_fp32(blk->d);
            }
        }
        double expect = 0, magnitude = 0;
        for (int64_t i = 0; i < n; ++i) {
            expect += double(w.dequantized[i]) * a_deq[i];
            magnitude += std::fabs(double(w.dequantized[i]) * a_deq[i]);
        }
        const float got = scalar::dot_kernel(t)(n, w.bytes.data(), qa.data());
        // Q8_1 stores each block's sum d*Σq as fp16 (as llama.cpp does): the min term of Q4_1/Q5_1
        // carries that half-precision rounding, so those two get a looser bound.
        const double rel = at == TensorType::Q8_1 ? 1e-3 : 1e-5;
        EXPECT_NEAR(got, expect, rel * magnitude + 1e-6) << tf::tensor_type_name(t);
    }
}

TEST(Dot, every_supported_weight_type_has_a_kernel_on_every_isa) {
    for (TensorType t : kTypes) {
        EXPECT_NE(dot_kernel(t, Isa::Scalar), nullptr);
        EXPECT_NE(dot_kernel(t, Isa::Avx2), nullptr);
        EXPECT_NE(dot_kernel(t, Isa::Avx512), nullptr);
        // A dedicated path for every type on every x86 ISA (not a fallback), except F16 on
        // AVX-512: its 8-lane fused contract leaves nothing for wider vectors in a single row
        // (the AVX-512 F16 panel kernel is where 512-bit vectors pay, across 16 rows).
#if defined(__x86_64__)
        EXPECT_NE(tf::kernels::avx2::dot_kernel(t), nullptr) << tf::tensor_type_name(t);
        if (t != TensorType::F16) {
            EXPECT_NE(tf::kernels::avx512::dot_kernel(t), nullptr) << tf::tensor_type_name(t);
        }
#endif
    }
}

}  // namespace

