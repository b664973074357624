// Attention's inner products give the scalar specification's bits on this CPU's SIMD path, for
// head sizes that are and are not multiples of the vector width.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernels/attention_ops.h"
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

}  // namespace
