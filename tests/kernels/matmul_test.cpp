// Batch- and thread-invariance: an output element is bit-identical whether its token is computed
// alone or in a batch, by 1 thread or several, on any ISA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "kernels/convert.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/matmul.h"
#include "kernels/matmul_panel.h"

namespace {

using tf::TensorType;
using namespace tf::kernels;

TEST(Matmul, results_do_not_depend_on_batch_or_threads) {
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    const int64_t rows = 67, cols = 512, tokens = 9;
    for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K,
                         TensorType::Q6_K, TensorType::Q5_1, TensorType::IQ4_XS}) {
        std::vector<float> wf(static_cast<size_t>(rows * cols));
        for (auto& v : wf) v = dist(rng);
        const int64_t rb = static_cast<int64_t>(*tf::tensor_row_bytes(t, cols));
        std::vector<uint8_t> wq(static_cast<size_t>(rows * rb));
        for (int64_t r = 0; r < rows; ++r) quantize_row(t, wf.data() + r * cols, wq.data() + r * rb, cols);
        WeightMatrix w{t, wq.data(), rows, cols};
        std::vector<float> x(static_cast<size_t>(tokens * cols));
        for (auto& v : x) v = dist(rng) * 20;

        std::vector<float> batched(static_cast<size_t>(tokens * rows));
        tf::ThreadPool one(1);
        matmul_f32(w, x.data(), tokens, batched.data(), &one);

        for (int threads : {2, 3}) {
            tf::ThreadPool pool(threads);
            std::vector<float> again(batched.size());
            matmul_f32(w, x.data(), tokens, again.data(), &pool);
            ASSERT_EQ(std::memcmp(again.data(), batched.data(), batched.size() * 4), 0)
                << tf::tensor_type_name(t) << " threads=" << threads;
        }
        for (int64_t tok = 0; tok < tokens; ++tok) {
            std::vector<float> alone(static_cast<size_t>(rows));
            matmul_f32(w, x.data() + tok * cols, 1, alone.data(), nullptr);
            ASSERT_EQ(std::memcmp(alone.data(), batched.data() + tok * rows, static_cast<size_t>(rows) * 4), 0)
                << tf::tensor_type_name(t) << " token " << tok;
        }
    }
}


// Matrices sharing activation rows in one pass (Q/K/V, gate/up) give each matrix's own products,
// whatever the thread count: different row counts (partial panels), two weight types of the same
// activation format, panels and per-row paths mixed.
TEST(Matmul, a_group_equals_its_matrices_one_by_one) {
    std::mt19937 rng(17);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    const int64_t cols = 256;
    const std::pair<TensorType, int64_t> shapes[] = {{TensorType::Q4_0, 67}, {TensorType::Q8_0, 16}, {TensorType::Q4_0, 5}};
    std::vector<std::vector<uint8_t>> storage;
    std::vector<WeightMatrix> ws;
    for (const auto& [type, rows] : shapes) {
        const int64_t rb = static_cast<int64_t>(*tf::tensor_row_bytes(type, cols));
        std::vector<float> wf(static_cast<size_t>(rows * cols));
        for (auto& v : wf) v = dist(rng);
        storage.emplace_back(static_cast<size_t>(rows * rb));
        for (int64_t r = 0; r < rows; ++r) quantize_row(type, wf.data() + r * cols, storage.back().data() + r * rb, cols);
        ws.push_back({type, storage.back().data(), rows, cols});
    }
    for (int64_t tokens : {1, 2, 7}) {
        std::vector<float> x(static_cast<size_t>(tokens * cols));
        for (auto& v : x) v = dist(rng) * 20;
        std::vector<uint8_t> act(static_cast<size_t>(activation_row_bytes(TensorType::Q8_0, cols) * tokens));
        quantize_activation_rows(TensorType::Q8_0, x.data(), tokens, cols, act.data(), nullptr);
        for (int threads : {1, 2, 3}) {
            tf::ThreadPool pool(threads);
            std::vector<std::vector<float>> want, got;
            std::vector<float*> outs;
            for (const WeightMatrix& w : ws) {
                want.emplace_back(static_cast<size_t>(w.n_rows * tokens));
                got.emplace_back(static_cast<size_t>(w.n_rows * tokens), -1.0f);
                matmul(w, act.data(), tokens, want.back().data(), w.n_rows, nullptr);
            }
            for (auto& g : got) outs.push_back(g.data());
            matmul_group(ws.data(), outs.data(), static_cast<int>(ws.size()), act.data(), tokens, &pool);
            for (size_t i = 0; i < ws.size(); ++i) {
                ASSERT_EQ(std::memcmp(want[i].data(), got[i].data(), want[i].size() * 4), 0) << "matrix " << i << " tokens " << tokens << " threads " << threads;
            }
        }
    }
}

// Prompt batches take the 16-row panel kernels where the CPU has them; each output must still
// equal the scalar reference dot() bit for bit — partial panels, block counts that are not a
// multiple of 8, odd token counts included.
TEST(Matmul, panel_products_equal_the_scalar_dot) {
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16}) {
        const bool k_quant = t == TensorType::Q4_K || t == TensorType::Q6_K;
        const std::vector<int64_t> widths = k_quant ? std::vector<int64_t>{256, 2304, 3072}
                                            : t == TensorType::F16 ? std::vector<int64_t>{8, 904, 2048}
                                                                   : std::vector<int64_t>{256, 896, 2080};
        // 7 and 8 tokens: every token grouping of the kernels (F16 batches: 3+3+1 and 3+3+2).
        for (int64_t tokens : {7, 8})
        for (int64_t cols : widths) {
            const int64_t rows = 37;
            std::vector<float> wf(static_cast<size_t>(rows * cols));
            for (auto& v : wf) v = dist(rng);
            const int64_t rb = static_cast<int64_t>(*tf::tensor_row_bytes(t, cols));
            std::vector<uint8_t> wq(static_cast<size_t>(rows * rb));
            for (int64_t r = 0; r < rows; ++r) quantize_row(t, wf.data() + r * cols, wq.data() + r * rb, cols);
            std::vector<float> x(static_cast<size_t>(tokens * cols));
            for (auto& v : x) v = dist(rng) * 20;
            std::vector<float> out(static_cast<size_t>(tokens * rows));
            // The matrix repacked as at load, every row restorable from its panel.
            const int64_t pb = panel_bytes(t, cols);
            std::vector<uint8_t> panels(static_cast<size_t>(matrix_panel_bytes(t, rows, cols)));
            for (int64_t r0 = 0; r0 < rows; r0 += kPanelRows) {
                const int n = static_cast<int>(std::min<int64_t>(kPanelRows, rows - r0));
                pack_panel(t, wq.data() + r0 * rb, rb, n, cols, panels.data() + r0 / kPanelRows * pb);
                std::vector<uint8_t> row(static_cast<size_t>(rb));
                for (int r = 0; r < n; ++r) {
                    unpack_panel_row(t, panels.data() + r0 / kPanelRows * pb, r, cols, row.data());
                    ASSERT_EQ(std::memcmp(row.data(), wq.data() + (r0 + r) * rb, static_cast<size_t>(rb)), 0)
                        << tf::tensor_type_name(t) << " row " << r0 + r << " does not survive its panel";
                }
            }
            if (!has_panel_kernel(t)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU: the panel kernels are not used";
            tf::ThreadPool pool(2);
            WeightMatrix w{t, wq.data(), rows, cols};
            w.panels = panels.data();
            matmul_f32(w, x.data(), tokens, out.data(), &pool);
            const int64_t arb = activation_row_bytes(t, cols);
            std::vector<uint8_t> act(static_cast<size_t>(arb));
            const DotFn ref = dot_kernel(t, Isa::Scalar);
            for (int64_t tok = 0; tok < tokens; ++tok) {
                quantize_activations(t, x.data() + tok * cols, act.data(), cols);
                for (int64_t r = 0; r < rows; ++r) {
                    const float want = ref(cols, wq.data() + r * rb, act.data());
                    ASSERT_EQ(std::memcmp(&want, &out[static_cast<size_t>(tok * rows + r)], 4), 0)
                        << tf::tensor_type_name(t) << " cols=" << cols << " row " << r << " token " << tok << ": " << want << " vs "
                        << out[static_cast<size_t>(tok * rows + r)];
                }
            }
        }
    }
}

}  // namespace
