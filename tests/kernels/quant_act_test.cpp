// The AVX-512 activation quantizers give the scalar quantizers' bytes exactly: random rows of
// several scales, rows built to land on rounding ties (x·id = k + 0.5, both signs, and the float
// just below 0.5), all-zero blocks, and a largest magnitude present with both signs (Q8_K keeps
// the first one's sign).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/cpu_features.h"
#include "kernels/quant_act.h"
#include "kernels/quant_k.h"
#include "kernels/quant_legacy.h"
#include "util/half.h"

namespace {

using namespace tf::kernels;

std::vector<std::vector<float>> rows(int64_t n) {
    std::vector<std::vector<float>> out;
    std::mt19937 rng(5);
    for (float scale : {1e-6f, 0.02f, 1.0f, 300.0f}) {
        std::normal_distribution<float> dist(0.0f, scale);
        std::vector<float> r(static_cast<size_t>(n));
        for (auto& v : r) v = dist(rng);
        out.push_back(r);
    }
    // amax = 127 makes d = 1 and id = 1: the values themselves are what gets rounded.
    std::vector<float> ties(static_cast<size_t>(n));
    const float special[] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 0.49999997f, -0.49999997f, 126.5f, -126.5f, 1.5f, -3.5f, 0.0f, -0.0f, 64.5f};
    for (size_t i = 0; i < ties.size(); ++i) ties[i] = special[i % (sizeof special / sizeof *special)];
    out.push_back(ties);
    std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    for (size_t i = 256; i < zeros.size(); ++i) zeros[i] = static_cast<float>(i % 7) - 3.0f;  // the first blocks all zero
    out.push_back(zeros);
    std::vector<float> both(static_cast<size_t>(n), 1.0f);
    for (size_t i = 0; i < both.size(); i += 256) both[i + 3] = -9.0f, both[i + 200] = 9.0f;
    out.push_back(both);
    return out;
}

TEST(QuantAct, q8_0_equals_the_scalar_quantizer_with_its_extras) {
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 here";
    const int64_t n = 2048;
    for (const auto& x : rows(n)) {
        std::vector<BlockQ8_0> want(static_cast<size_t>(n / 32)), got(want.size());
        quantize_act_row_q8_0(x.data(), want.data(), n);
        std::vector<float> d(want.size());
        std::vector<int32_t> sums(want.size());
        avx512::quantize_act_q8_0(x.data(), got.data(), d.data(), sums.data(), n);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(BlockQ8_0)), 0);
        for (size_t b = 0; b < want.size(); ++b) {
            int32_t s = 0;
            for (int8_t q : want[b].qs) s += q;
            EXPECT_EQ(sums[b], s);
            EXPECT_EQ(d[b], tf::fp16_to_fp32(want[b].d));
        }
    }
}

TEST(QuantAct, q8_k_equals_the_scalar_quantizer) {
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 here";
    const int64_t n = 2048;
    for (const auto& x : rows(n)) {
        std::vector<BlockQ8_K> want(static_cast<size_t>(n / 256)), got(want.size());
        quantize_row_q8_k(x.data(), want.data(), n);
        avx512::quantize_act_q8_k(x.data(), got.data(), n);
        for (size_t b = 0; b < want.size(); ++b) {
            EXPECT_EQ(std::memcmp(&want[b].d, &got[b].d, sizeof(float)), 0) << "block " << b;
            EXPECT_EQ(std::memcmp(want[b].qs, got[b].qs, sizeof want[b].qs), 0) << "block " << b;
            EXPECT_EQ(std::memcmp(want[b].bsums, got[b].bsums, sizeof want[b].bsums), 0) << "block " << b;
        }
    }
}

}  // namespace
