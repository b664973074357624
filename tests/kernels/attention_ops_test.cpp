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

// The many-rows forms give exactly the one-row functions' bits, for row counts around the 16-key
// block and head sizes that are and are not multiples of 16 or of the 128-value register chunk.
TEST(AttentionOps, many_rows_equal_one_row_at_a_time) {
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    for (int64_t n : {16, 40, 64, 128, 144, 256}) {
        for (int64_t rows : {1, 15, 16, 17, 33, 70}) {
            const int64_t offset = 2 * 8;  // a head that does not start the row
            std::vector<std::vector<uint16_t>> store(static_cast<size_t>(rows), std::vector<uint16_t>(static_cast<size_t>(n + 8)));
            std::vector<const uint8_t*> ptrs;
            for (auto& r : store) {
                for (auto& x : r) x = tf::fp32_to_fp16(dist(rng));
                ptrs.push_back(reinterpret_cast<const uint8_t*>(r.data()));
            }
            std::vector<float> q(static_cast<size_t>(n)), p(static_cast<size_t>(rows));
            for (auto& x : q) x = dist(rng);
            for (auto& x : p) x = dist(rng);
            std::vector<float> got(static_cast<size_t>(rows)), want_o(static_cast<size_t>(n), 0.0f), got_o(static_cast<size_t>(n), 7.0f);
            tf::kernels::dot_f16_f32_rows(ptrs.data(), offset, rows, q.data(), n, got.data());
            for (int64_t j = 0; j < rows; ++j) {
                const float want = tf::kernels::scalar::dot_f16_f32(store[static_cast<size_t>(j)].data() + 8, q.data(), n);
                ASSERT_EQ(std::memcmp(&want, &got[static_cast<size_t>(j)], 4), 0) << "n=" << n << " rows=" << rows << " j=" << j;
                tf::kernels::scalar::axpy_f16(p[static_cast<size_t>(j)], store[static_cast<size_t>(j)].data() + 8, want_o.data(), n);
            }
            tf::kernels::weighted_sum_f16_rows(p.data(), ptrs.data(), offset, rows, got_o.data(), n);
            ASSERT_EQ(std::memcmp(want_o.data(), got_o.data(), want_o.size() * 4), 0) << "n=" << n << " rows=" << rows;
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
