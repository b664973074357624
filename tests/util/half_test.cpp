#include "util/half.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("f16c"))) static float hw_h2f(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) static uint16_t hw_f2h(float f) { return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }
static bool have_f16c() { return __builtin_cpu_supports("f16c"); }
#endif

namespace {

using tf::bf16_to_fp32;
using tf::fp16_to_fp32;
using tf::fp32_to_bf16;
using tf::fp32_to_fp16;

TEST(Half, every_fp16_value_round_trips_through_fp32) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = fp16_to_fp32(static_cast<uint16_t>(h));
        bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
        if (is_nan) {
            EXPECT_TRUE(std::isnan(f)) << h;
        } else {
            EXPECT_EQ(fp32_to_fp16(f), h) << h;
        }
    }
}

TEST(Half, known_values) {
    EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
    EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
    EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
    EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_EQ(fp32_to_fp16(1e6f), 0x7c00);                    // overflow to +inf
    EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie rounds to even
}

#if defined(__x86_64__)
TEST(Half, conversions_match_the_f16c_instructions) {
    if (!have_f16c()) GTEST_SKIP() << "CPU without F16C";
    for (uint32_t h = 0; h < 65536; ++h) {
        float a = fp16_to_fp32(static_cast<uint16_t>(h)), b = hw_h2f(static_cast<uint16_t>(h));
        if (std::isnan(a)) continue;
        ASSERT_EQ(std::memcmp(&a, &b, 4), 0) << h;
    }
    std::mt19937 rng(7);
    std::uniform_int_distribution<uint32_t> bits;
    for (int i = 0; i < 2000000; ++i) {
        uint32_t u = bits(rng);
        float f;
        std::memcpy(&f, &u, 4);
        if (std::isnan(f)) continue;
        ASSERT_EQ(fp32_to_fp16(f), hw_f2h(f)) << std::hex << u;
    }
}
#endif

TEST(BFloat16, rounds_to_nearest_even_and_keeps_nan) {
    EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
    uint32_t halfway = 0x3f808000;  // exactly between 0x3f80 and 0x3f81: stays even
    float f;
    std::memcpy(&f, &halfway, 4);
    EXPECT_EQ(fp32_to_bf16(f), 0x3f80);
    uint32_t above = 0x3f818000;  // between 0x3f81 and 0x3f82: rounds to even 0x3f82
    std::memcpy(&f, &above, 4);
    EXPECT_EQ(fp32_to_bf16(f), 0x3f82);
    EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::nanf("")))));
}

}  // namespace
