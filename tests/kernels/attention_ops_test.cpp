// Attention's inner products give the scalar specification's bits on this CPU's SIMD path, for
// head sizes that are and are not multiples of the vector width.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernels/attention_ops.h"
#include "kernels/quant_legacy.h"
#include "util/half.h"

namespace {

TEST(AttentionOps, simd_paths_equal_the_scalar_specification) {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (int64_t n : {7, 16, 64, 80, 96, 128, 200, 256}) {
        std::vector<uint16_t> k(static_cast<size_t>(n));
        std::vector<float> q(static_cast<size_t>(n));
        for (int trial = 0; trial < 50; ++trial) {
            for (auto& x : k) x = tf::fp32_to_fp16(dist(rng));
            for (auto& x : q) x = dist(rng);
            const float want = tf::kernels::scalar::dot_f16_f32(k.data(), q.data(), n);
            const float got = tf::kernels::dot_f16_f32(k.data(), q.data(), n);
            ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << "n=" << n << ": " << want << " vs " << got;
            std::vector<float> o1 = q, o2 = q;
            const float p = dist(rng);
            tf::kernels::scalar::axpy_f16(p, k.data(), o1.data(), n);
            tf::kernels::axpy_f16(p, k.data(), o2.data(), n);
            ASSERT_EQ(std::memcmp(o1.data(), o2.data(), o1.size() * 4), 0) << "n=" << n;
        }
    }
}

// A Q8_0 value row: the SIMD path gives the scalar bits, and both are o + p * (the dequantized row).
TEST(AttentionOps, q8_0_value_rows_accumulate_their_dequantized_values) {
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (int64_t n : {32, 64, 96, 128, 256}) {
        std::vector<float> x(static_cast<size_t>(n)), deq(static_cast<size_t>(n));
        std::vector<tf::kernels::BlockQ8_0> v(static_cast<size_t>(n / 32));
        for (int trial = 0; trial < 50; ++trial) {
            for (auto& e : x) e = dist(rng);
            tf::kernels::quantize_row_q8_0(x.data(), v.data(), n);
            tf::kernels::dequantize_row_q8_0(v.data(), deq.data(), n);
            const float p = dist(rng);
            std::vector<float> o1(static_cast<size_t>(n)), o2, want(static_cast<size_t>(n));
            for (auto& e : o1) e = dist(rng);
            o2 = o1;
            for (size_t i = 0; i < want.size(); ++i) want[i] = o1[i] + p * deq[i];
            tf::kernels::scalar::axpy_q8_0(p, v.data(), o1.data(), n);
            tf::kernels::axpy_q8_0(p, v.data(), o2.data(), n);
            ASSERT_EQ(std::memcmp(o1.data(), o2.data(), o1.size() * 4), 0) << "n=" << n;
            ASSERT_EQ(std::memcmp(o1.data(), want.data(), o1.size() * 4), 0) << "n=" << n;
        }
    }
}

}  // namespace
