// The forward pass against llama.cpp's outputs in ../shared/reference/outputs: the top-1 token
// at every position of every prompt, the greedy 32-token continuation, and the last position's
// full logit vector within a per-type tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include "gguf/writer.h"
#include "model/context.h"
#include "support/reference.h"

namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

int argmax(const float* x, int64_t n) {
    int best = 0;
    for (int64_t i = 1; i < n; ++i) {
        if (x[i] > x[best]) best = static_cast<int>(i);
    }
    return best;
}

struct Case {
    const char* model;
    double tolerance;  // max |logit - reference| at the last position
    bool flash;        // the reference was computed with flash-attention numerics
};

class LogitsGolden : public ::testing::TestWithParam<Case> {};

TEST_P(LogitsGolden, matches_llama_cpp) {
    TF_REQUIRE_REFERENCE();
    const Case c = GetParam();
    auto model = tf::model::Model::load((tf::test::reference_dir() / "models" / (std::string(c.model) + ".gguf")).string());
    ASSERT_TRUE(model.ok()) << model.error().message;
    const auto ref = nlohmann::json::parse(slurp(tf::test::reference_dir() / "outputs" / (std::string(c.model) + ".json")));
    const int64_t n_vocab = ref["n_vocab"].get<int64_t>();
    ASSERT_EQ(n_vocab, (*model)->hp.n_vocab);
    double worst = 0;
    int prompt_index = 0;
    for (const auto& p : ref["prompts"]) {
        SCOPED_TRACE(std::string(c.model) + " prompt " + std::to_string(prompt_index));
        const auto tokens = p["tokens"].get<std::vector<int32_t>>();
        tf::model::ContextOptions co;
        co.n_ctx = 512;
        co.n_threads = 2;
        co.flash_attention_numerics = c.flash;
        tf::model::Context ctx(**model, co);
        auto logits = ctx.decode(tokens, true);
        ASSERT_TRUE(logits.ok()) << logits.error().message;
        for (size_t t = 0; t < tokens.size(); ++t) {
            const int expected = p["positions"][t]["top"][0][0].get<int>();
            EXPECT_EQ(argmax(logits->data() + t * n_vocab, n_vocab), expected) << "position " << t;
        }
        // Full last-position vector.
        const std::string bin = slurp(tf::test::reference_dir() / "outputs" / p["last_logits_file"].get<std::string>());
        ASSERT_EQ(bin.size(), static_cast<size_t>(n_vocab) * 4);
        const float* last = logits->data() + (tokens.size() - 1) * n_vocab;
        double max_diff = 0;
        for (int64_t i = 0; i < n_vocab; ++i) {
            float r;
            std::memcpy(&r, bin.data() + 4 * i, 4);
            max_diff = std::max(max_diff, std::fabs(static_cast<double>(last[i]) - r));
        }
        worst = std::max(worst, max_diff);
        EXPECT_LE(max_diff, c.tolerance);
        // Greedy continuation, one token at a time through the KV cache.
        std::vector<int32_t> greedy;
        int next = argmax(last, n_vocab);
        for (int i = 0; i < 32; ++i) {
            greedy.push_back(next);
            auto step = ctx.decode({next}, false);
            ASSERT_TRUE(step.ok()) << step.error().message;
            next = argmax(step->data(), n_vocab);
        }
        EXPECT_EQ(greedy, p["greedy"]["ids"].get<std::vector<int32_t>>());
        ++prompt_index;
    }
    std::printf("[logits %s] max |last-logit difference| %.3g (tolerance %.3g)\n", c.model, worst, c.tolerance);
}

// The models whose reference this forward pass reproduces today. tiny-llama (F32 weights) matches
// llama.cpp's non-flash attention numerics to float summation order; the two real-vocabulary
// models match its flash-attention numerics to ~2e-6. The other reference models are within
// 0.005-0.4 of their references but not yet exact (issue 5's open item: which attention path and
// batching llama.cpp used for them), so they are not asserted here.
INSTANTIATE_TEST_SUITE_P(Models, LogitsGolden,
                         ::testing::Values(Case{"tiny-llama", 2e-3, false}, Case{"vocab-llama3-llama-Q8_0", 1e-4, true},
                                           Case{"vocab-qwen2-qwen2-Q8_0", 1e-4, true}),
    [](const auto& info) {
        std::string n = info.param.model;
        for (auto& ch : n) {
            if (ch == '-' || ch == '.') ch = '_';
        }
        return n;
    });

}  // namespace

namespace {

std::vector<float> run(const tf::model::Model& m, const std::vector<int32_t>& ids, int threads, size_t chunk) {
    tf::model::Context ctx(m, 256, threads);
    std::vector<float> last;
    for (size_t i = 0; i < ids.size(); i += chunk) {
        std::vector<int32_t> part(ids.begin() + static_cast<long>(i), ids.begin() + static_cast<long>(std::min(ids.size(), i + chunk)));
        auto r = ctx.decode(part, false);
        EXPECT_TRUE(r.ok());
        last = *r;
    }
    return last;
}

TEST(Determinism, logits_are_bit_identical_across_threads_and_prompt_chunking) {
    TF_REQUIRE_REFERENCE();
    for (const char* name : {"tiny-llama", "ladder-llama-Q4_K_M", "tiny-qwen3-Q8_0"}) {
        auto m = tf::model::Model::load((tf::test::reference_dir() / "models" / (std::string(name) + ".gguf")).string());
        ASSERT_TRUE(m.ok()) << m.error().message;
        std::vector<int32_t> ids;
        for (int i = 0; i < 37; ++i) ids.push_back(1 + (i * 37) % 500);
        const auto base = run(**m, ids, 1, ids.size());
        for (auto [threads, chunk] : std::vector<std::pair<int, size_t>>{{2, ids.size()}, {1, 1}, {2, 5}, {3, 16}}) {
            const auto other = run(**m, ids, threads, chunk);
            ASSERT_EQ(base.size(), other.size());
            EXPECT_EQ(std::memcmp(base.data(), other.data(), base.size() * 4), 0)
                << name << " threads=" << threads << " chunk=" << chunk;
        }
    }
}

TEST(ModelLoad, unsupported_and_broken_models_are_clear_errors) {
    TF_REQUIRE_REFERENCE();
    auto gemma = tf::model::Model::load((tf::test::reference_dir() / "models/tiny-gemma2.gguf").string());
    ASSERT_FALSE(gemma.ok());
    EXPECT_NE(gemma.error().message.find("architecture 'gemma2' is not supported yet"), std::string::npos);
    auto moe = tf::model::Model::load((tf::test::reference_dir() / "models/tiny-mixtral.gguf").string());
    ASSERT_FALSE(moe.ok());
    EXPECT_NE(moe.error().message.find("mixture-of-experts"), std::string::npos);

    // A copy of tiny-llama with one tensor dropped and one reshaped.
    auto f = tf::gguf::File::open((tf::test::reference_dir() / "models/tiny-llama.gguf").string());
    ASSERT_TRUE(f.ok());
    auto w = tf::gguf::Writer::from_file(*f);
    auto& ts = w.tensors();
    ts.erase(std::remove_if(ts.begin(), ts.end(), [](const auto& t) { return t.name == "blk.1.ffn_up.weight"; }), ts.end());
    for (auto& t : ts) {
        if (t.name == "blk.0.attn_k.weight") t.dims = {64, 128};
    }
    const auto path = (std::filesystem::temp_directory_path() / ("tf-broken-" + std::to_string(::getpid()) + ".gguf")).string();
    ASSERT_TRUE(w.write(path).ok());
    auto broken = tf::model::Model::load(path);
    std::filesystem::remove(path);
    ASSERT_FALSE(broken.ok());
    EXPECT_NE(broken.error().message.find("tensor 'blk.0.attn_k.weight' has shape [64, 128], expected [128, 64]"),
              std::string::npos)
        << broken.error().message;
    EXPECT_NE(broken.error().message.find("missing tensor 'blk.1.ffn_up.weight'"), std::string::npos);
}

}  // namespace
