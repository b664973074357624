// The pieces of llama.cpp's numerics we reproduce bit for bit: its vector e^x inside SiLU, its
// x86 activation quantizer, and its dot-product accumulation orders (the golden logits test is
// the end-to-end proof; these pin the pieces down where they can fail alone).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/convert.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/dot_llama_cpp.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/ops_simd.h"
#include "kernels/quant_legacy.h"

namespace {

using namespace tf::kernels;
using tf::TensorType;
using tf::tensor_row_bytes;
using tf::tensor_type_name;

TEST(GgmlExpf, is_within_two_ulps_of_exp_and_saturates_like_ggml) {
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        const float got = ggml_expf(x), want = std::exp(x);
        EXPECT_LE(std::fabs(got - want), 2.0f * (std::nextafter(want, INFINITY) - want)) << x;
    }
    EXPECT_EQ(ggml_expf(0.0f), 1.0f);
    EXPECT_EQ(ggml_expf(-200.0f), 0.0f);
    EXPECT_EQ(ggml_expf(200.0f), INFINITY);
    EXPECT_TRUE(std::isnan(ggml_expf(NAN)));
}

TEST(Swiglu, every_element_is_the_scalar_formula_whatever_the_length) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 4.0f);
    for (int64_t n : {1, 15, 16, 17, 100, 256, 1000}) {
        std::vector<float> g(static_cast<size_t>(n)), u(g.size()), out(g.size());
        for (size_t i = 0; i < g.size(); ++i) g[i] = dist(rng), u[i] = dist(rng);
        if (n > 3) g[0] = 95.0f, g[1] = -120.0f, g[2] = 0.0f, g[3] = -0.0f;
        swiglu(g.data(), u.data(), n, out.data());
        for (int64_t i = 0; i < n; ++i) {
            const float want = (g[i] / (1.0f + ggml_expf(0.0f - g[i]))) * u[i];
            ASSERT_EQ(std::memcmp(&out[i], &want, 4), 0) << "n=" << n << " i=" << i << " g=" << g[i];
        }
    }
}

TEST(Swiglu, the_avx512_and_avx2_paths_equal_the_scalar_formula) {
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.0f, 30.0f);
    const int64_t n = 4096;
    std::vector<float> g(static_cast<size_t>(n)), u(g.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = dist(rng), u[i] = dist(rng) / 10.0f;
    const float special[] = {0.0f, -0.0f, 88.0f, -88.0f, 103.0f, -103.0f, 150.0f, -150.0f, 300.0f, -300.0f, 1e-30f, -1e-30f, 86.9f, -86.9f};
    for (size_t i = 0; i < sizeof special / sizeof *special; ++i) g[i] = special[i];
    struct Path {
        Isa isa;
        int64_t (*fn)(const float*, const float*, int64_t, float*);
    };
    for (const Path& p : {Path{Isa::Avx512, avx512::swiglu}, Path{Isa::Avx2, avx2::swiglu}}) {
        if (!isa_supported(p.isa)) continue;
        std::vector<float> out(g.size(), -1.0f);
        const int64_t done = p.fn(g.data(), u.data(), n, out.data());
        ASSERT_EQ(done, n);
        for (int64_t i = 0; i < n; ++i) {
            const float want = (g[i] / (1.0f + ggml_expf(0.0f - g[i]))) * u[i];
            ASSERT_EQ(std::memcmp(&out[i], &want, 4), 0) << "isa " << static_cast<int>(p.isa) << " g=" << g[i] << " got " << out[i] << " want " << want;
        }
    }
}

TEST(ActivationQuant, q8_0_rounds_half_to_even_with_127_over_amax) {
    // amax = 127: id = 1, so the values themselves are rounded.
    float x[32];
    const float vals[] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -3.5f, 126.5f};
    for (int i = 0; i < 32; ++i) x[i] = vals[i % 8];
    BlockQ8_0 b;
    quantize_act_row_q8_0(x, &b, 32);
    const int8_t want[] = {127, 2, -2, 0, 0, 2, -4, 126};
    for (int i = 0; i < 32; ++i) EXPECT_EQ(b.qs[i], want[i % 8]) << i;
    // The model-file quantizer (llama.cpp's reference one) rounds half away from zero.
    BlockQ8_0 ref;
    quantize_row_q8_0(x, &ref, 32);
    EXPECT_EQ(ref.qs[1], 3);
    EXPECT_EQ(ref.qs[3], 1);
}

TEST(LlamaCppOrder, kernels_stay_close_to_ours_and_do_not_depend_on_the_batch) {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    const int64_t cols = 256, rows = 24, tokens = 7;
    std::vector<float> wf(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(tokens * cols));
    for (auto& v : wf) v = dist(rng);
    for (auto& v : x) v = dist(rng);
    for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                         TensorType::IQ4_NL, TensorType::MXFP4}) {
        const std::string name(tensor_type_name(t));
        SCOPED_TRACE(name);
        ASSERT_NE(llama_cpp_kernels(t, rows).gemv, nullptr);
        const int64_t rb = static_cast<int64_t>(*tensor_row_bytes(t, cols));
        std::vector<uint8_t> w(static_cast<size_t>(rows * rb));
        for (int64_t r = 0; r < rows; ++r) quantize_row(t, wf.data() + r * cols, w.data() + r * rb, cols);
        WeightMatrix m{t, w.data(), rows, cols};
        m.llama_cpp_order = true;
        WeightMatrix native{t, w.data(), rows, cols};
        std::vector<float> all(static_cast<size_t>(tokens * rows)), ours(all.size());
        matmul_f32(m, x.data(), tokens, all.data(), nullptr);
        matmul_f32(native, x.data(), tokens, ours.data(), nullptr);
        for (int64_t tok = 0; tok < tokens; ++tok) {
            std::vector<float> one(static_cast<size_t>(rows));
            matmul_f32(m, x.data() + tok * cols, 1, one.data(), nullptr);
            ASSERT_EQ(std::memcmp(one.data(), all.data() + tok * rows, static_cast<size_t>(rows) * 4), 0) << "token " << tok;
        }
        int differ = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            EXPECT_NEAR(all[i], ours[i], 1e-4f * (1.0f + std::fabs(ours[i])));
            differ += all[i] != ours[i];
        }
        std::printf("[llama.cpp order %s] %d of %zu products differ from ours in the last bits\n", name.c_str(), differ,
                    all.size());
    }
    EXPECT_EQ(llama_cpp_kernels(TensorType::Q4_K, rows + 1).gemv, nullptr);
}

TEST(LlamaCppOrder, repacked_k_quants_take_the_gemm_order_for_rows_in_fours_like_llama_cpp) {
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    const int64_t cols = 512, rows = 16, tokens = 7;
    std::vector<float> wf(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(tokens * cols));
    for (auto& v : wf) v = dist(rng);
    for (auto& v : x) v = dist(rng);
    for (TensorType t : {TensorType::Q4_K, TensorType::Q2_K}) {
        const std::string name(tensor_type_name(t));
        SCOPED_TRACE(name);
        const int64_t rb = static_cast<int64_t>(*tensor_row_bytes(t, cols));
        std::vector<uint8_t> w(static_cast<size_t>(rows * rb));
        for (int64_t r = 0; r < rows; ++r) quantize_row(t, wf.data() + r * cols, w.data() + r * rb, cols);
        WeightMatrix m{t, w.data(), rows, cols};
        m.llama_cpp_order = true;
        std::vector<float> seven(static_cast<size_t>(tokens * rows)), four(static_cast<size_t>(4 * rows)), one(static_cast<size_t>(rows));
        matmul_f32(m, x.data(), tokens, seven.data(), nullptr);
        matmul_f32(m, x.data(), 4, four.data(), nullptr);
        // Tokens 0-3 of 7 are the GEMM's, like a batch of 4; tokens 4-6 the GEMV's, like one token.
        EXPECT_EQ(std::memcmp(seven.data(), four.data(), four.size() * 4), 0);
        int gemm_differs = 0;
        for (int64_t tok = 0; tok < tokens; ++tok) {
            matmul_f32(m, x.data() + tok * cols, 1, one.data(), nullptr);
            const int cmp = std::memcmp(one.data(), seven.data() + tok * rows, one.size() * 4);
            if (tok >= 4) EXPECT_EQ(cmp, 0) << "token " << tok;
            else gemm_differs += cmp != 0;
        }
        EXPECT_GT(gemm_differs, 0) << "the two orders should round differently somewhere";
    }
}

}  // namespace
