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

// Every reference model and every file of the quantization ladder, with reference-compatible
// numerics (llama.cpp's attention kernels and matrix-product orders, kernels/dot_llama_cpp.h):
// the argmax at every position of every prompt and the 32-token greedy continuation must equal
// llama.cpp's, and the last position's logits must be bit-identical to llama.cpp's
// (`tolerance` 0 for every weight type: F32, F16, BF16 and every quantization).
struct Case {
    const char* model;
    double tolerance;  // max |logit - reference| at the last position
    bool top1;
    bool greedy;
    size_t greedy_tokens = 32;  // greedy tokens that must match (of 32)
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
        co.attention = tf::model::AttentionNumerics::LlamaCppCompatible;
        tf::model::Context ctx(**model, co);
        auto logits = ctx.decode(tokens, true);
        ASSERT_TRUE(logits.ok()) << logits.error().message;
        for (size_t t = 0; t < tokens.size(); ++t) {
            const int expected = p["positions"][t]["top"][0][0].get<int>();
            if (c.top1) {
                EXPECT_EQ(argmax(logits->data() + t * n_vocab, n_vocab), expected) << "position " << t;
            }
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
        if (c.greedy) {
            auto expected = p["greedy"]["ids"].get<std::vector<int32_t>>();
            expected.resize(std::min(expected.size(), c.greedy_tokens));
            greedy.resize(expected.size());
            EXPECT_EQ(greedy, expected);
        }
        ++prompt_index;
    }
    std::printf("[logits %s] max |last-logit difference| %.3g (tolerance %.3g)\n", c.model, worst, c.tolerance);
}

INSTANTIATE_TEST_SUITE_P(
    Models, LogitsGolden,
    ::testing::Values(
        Case{"tiny-llama", 0.0, true, true}, Case{"tiny-qwen2", 0.0, true, true},
        Case{"tiny-qwen3", 0.0, true, true}, Case{"tiny-llama3-ropefreqs", 0.0, true, true},
        Case{"tiny-qwen2-yarn", 0.0, true, true}, Case{"tiny-mixtral", 0.0, true, true},
        Case{"tiny-gemma2", 0.0, true, true}, Case{"tiny-gemma3", 0.0, true, true},
        Case{"tiny-gemma3-swa-rope", 0.0, true, true}, Case{"ladder-llama-F32", 0.0, true, true},
        Case{"ladder-llama-F16", 0.0, true, true}, Case{"ladder-llama-BF16", 0.0, true, true},
        Case{"tiny-llama-Q8_0", 0.0, true, true}, Case{"tiny-qwen2-Q8_0", 0.0, true, true},
        Case{"tiny-qwen3-Q8_0", 0.0, true, true}, Case{"tiny-llama3-ropefreqs-Q8_0", 0.0, true, true},
        Case{"tiny-qwen2-yarn-Q8_0", 0.0, true, true}, Case{"tiny-mixtral-Q8_0", 0.0, true, true},
        Case{"tiny-phi3-Q8_0", 0.0, true, true}, Case{"tiny-phi3-longrope-Q8_0", 0.0, true, true},
        Case{"tiny-gemma2-Q8_0", 0.0, true, true}, Case{"tiny-gemma3-Q8_0", 0.0, true, true},
        Case{"tiny-gemma3-swa-rope-Q8_0", 0.0, true, true}, Case{"vocab-llama-spm-llama-Q8_0", 0.0, true, true},
        Case{"vocab-llama3-llama-Q8_0", 0.0, true, true}, Case{"vocab-qwen2-qwen2-Q8_0", 0.0, true, true},
        Case{"ladder-llama-Q8_0", 0.0, true, true}, Case{"ladder-llama-Q4_0", 0.0, true, true},
        Case{"ladder-llama-Q4_1", 0.0, true, true}, Case{"ladder-llama-Q5_0", 0.0, true, true},
        Case{"ladder-llama-Q5_1", 0.0, true, true}, Case{"ladder-llama-Q2_K", 0.0, true, true},
        Case{"ladder-llama-Q3_K_M", 0.0, true, true}, Case{"ladder-llama-Q4_K_M", 0.0, true, true},
        Case{"ladder-llama-Q5_K_M", 0.0, true, true}, Case{"ladder-llama-Q6_K", 0.0, true, true},
        Case{"ladder-llama-IQ4_NL", 0.0, true, true}, Case{"ladder-llama-IQ4_XS", 0.0, true, true},
        Case{"tiny-qwen3moe", 0.0, true, true}, Case{"tiny-qwen3moe-Q8_0", 0.0, true, true},
        Case{"tiny-smollm3", 0.0, true, true}, Case{"tiny-smollm3-Q8_0", 0.0, true, true},
        Case{"tiny-gpt-oss", 0.0, true, true}, Case{"tiny-gpt-oss-MXFP4_MOE", 0.0, true, true}),
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
    auto f = tf::gguf::File::open((tf::test::reference_dir() / "models/tiny-llama.gguf").string());
    ASSERT_TRUE(f.ok());
    const auto path = (std::filesystem::temp_directory_path() / ("tf-broken-" + std::to_string(::getpid()) + ".gguf")).string();

    // The same file claiming an architecture we do not run.
    auto mamba = tf::gguf::Writer::from_file(*f);
    mamba.set("general.architecture", tf::gguf::Value::string("mamba"));
    ASSERT_TRUE(mamba.write(path).ok());
    auto unsupported = tf::model::Model::load(path);
    ASSERT_FALSE(unsupported.ok());
    EXPECT_NE(unsupported.error().message.find("architecture 'mamba' is not supported yet"), std::string::npos)
        << unsupported.error().message;

    // A copy of tiny-llama with one tensor dropped and one reshaped.
    auto w = tf::gguf::Writer::from_file(*f);
    auto& ts = w.tensors();
    ts.erase(std::remove_if(ts.begin(), ts.end(), [](const auto& t) { return t.name == "blk.1.ffn_up.weight"; }), ts.end());
    for (auto& t : ts) {
        if (t.name == "blk.0.attn_k.weight") t.dims = {64, 128};
    }
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
