// Token masks applied to logits: the vectorized path equals the plain one on every size and
// pattern (all allowed, none, single bits, random), and only cleared bits change.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "util/mask_logits.h"

namespace {

TEST(MaskLogits, every_path_sets_exactly_the_cleared_bits_to_minus_infinity) {
    std::mt19937_64 rng(7);
    for (int64_t n : {1, 63, 64, 65, 127, 128, 1000, 128256}) {
        for (int pattern = 0; pattern < 4; ++pattern) {
            std::vector<uint64_t> bits(static_cast<size_t>((n + 63) / 64));
            for (auto& w : bits) w = pattern == 0 ? ~0ull : pattern == 1 ? 0 : pattern == 2 ? (1ull << (rng() % 64)) : rng();
            std::vector<float> logits(static_cast<size_t>(n));
            std::normal_distribution<float> d(0.0f, 3.0f);
            for (auto& v : logits) v = d(rng);
            std::vector<float> a = logits, b = logits;
            tf::mask_logits(a.data(), n, bits.data());
            tf::scalar::mask_logits(b.data(), n, bits.data());
            ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << n << " " << pattern;
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
