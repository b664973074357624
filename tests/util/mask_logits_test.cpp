// Token masks applied to logits: the vectorized path equals the plain one on every size and
// pattern (all allowed, none, single bits, random), wherever the vector starts in a cache line,
// and only cleared bits change.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "util/mask_logits.h"

namespace {

TEST(MaskLogits, every_path_sets_exactly_the_cleared_bits_to_minus_infinity) {
    std::mt19937_64 rng(7);
    for (int64_t n : {1, 15, 63, 64, 65, 127, 128, 1000, 128256}) {
        for (int pattern = 0; pattern < 8; ++pattern) {
            const size_t offset = static_cast<size_t>(pattern) * 5 % 17;  // floats into the buffer: 0..16
            std::vector<uint64_t> bits(static_cast<size_t>((n + 63) / 64));
            for (auto& w : bits) {
                const int kind = pattern % 4;
                w = kind == 0 ? ~0ull : kind == 1 ? 0 : kind == 2 ? (1ull << (rng() % 64)) : rng();
            }
            std::vector<float> logits(static_cast<size_t>(n));
            std::normal_distribution<float> d(0.0f, 3.0f);
            for (auto& v : logits) v = d(rng);
            // 64-byte aligned storage, the logits `offset` floats in: every start within a line.
            std::vector<float> store(static_cast<size_t>(n) + 32);
            float* base = store.data();
            while (reinterpret_cast<uintptr_t>(base) % 64 != 0) ++base;
            float* a_ptr = base + offset;
            std::copy(logits.begin(), logits.end(), a_ptr);
            std::vector<float> b = logits;
            tf::mask_logits(a_ptr, n, bits.data());
            tf::scalar::mask_logits(b.data(), n, bits.data());
            std::vector<float> a(a_ptr, a_ptr + n);
            ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << n << " " << pattern << " offset " << offset;
            for (int64_t i = 0; i < n; ++i) {
                const bool allowed = (bits[static_cast<size_t>(i / 64)] >> (i % 64)) & 1;
                if (allowed) {
                    ASSERT_EQ(a[static_cast<size_t>(i)], logits[static_cast<size_t>(i)]);
                } else {
                    ASSERT_TRUE(std::isinf(a[static_cast<size_t>(i)]) && a[static_cast<size_t>(i)] < 0);
                }
            }
        }
    }
}

}  // namespace
