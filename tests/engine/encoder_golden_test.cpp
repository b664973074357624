// BERT-family encoders against llama.cpp's outputs in ../shared/reference/outputs: the pooled
// embeddings of tiny-bert (CLS) and tiny-bert-mean (MEAN) and the reranker's scores of four
// (query, document) pairs; the WordPiece tokens as llama.cpp makes them. With llama.cpp's
// attention numerics (queries rounded to half, value sums kept in half) within 1e-6 relative
// (measured 1.5e-7; not bit for bit yet); with the default float attention within 2e-3 — the
// difference is llama.cpp's half-precision rounding, measured at 5e-4..7e-4 on these prompts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "engine/embed.h"
#include "support/reference.h"

namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct Loaded {
    std::unique_ptr<tf::model::Model> model;
    tf::tok::Tokenizer tokenizer;
};

Loaded load(const std::string& name) {
    auto m = tf::model::Model::load((tf::test::reference_dir() / "models" / (name + ".gguf")).string());
    if (!m.ok()) ADD_FAILURE() << m.error().message;
    auto t = tf::tok::Tokenizer::from_file(*(*m)->file);
    if (!t.ok()) ADD_FAILURE() << t.error().message;
    return {std::move(m.value()), std::move(t.value())};
}

class EncoderEmbedding : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderEmbedding, matches_llama_cpp) {
    TF_REQUIRE_REFERENCE();
    const std::string name = GetParam();
    Loaded l = load(name);
    ASSERT_TRUE(l.model);
    const auto ref = nlohmann::json::parse(slurp(tf::test::reference_dir() / "outputs" / (name + ".json")));
    using tf::model::AttentionNumerics;
    for (auto [numerics, threads, tolerance] :
         {std::tuple{AttentionNumerics::LlamaCppCompatible, 1, 1e-6},
          std::tuple{AttentionNumerics::LlamaCppCompatible, 2, 1e-6}, std::tuple{AttentionNumerics::Float, 2, 2e-3}}) {
        tf::model::Context ctx(*l.model, tf::model::ContextOptions{512, 1, threads, numerics});
        double worst = 0;
        for (const auto& p : ref["prompts"]) {
            const auto text = p["text"].get<std::string>();
            SCOPED_TRACE(text);
            const auto tokens = p["tokens"].get<std::vector<int32_t>>();
            EXPECT_EQ(l.tokenizer.encode(text, true), tokens);
            const auto pooling =
                p["pooling"].get<std::string>() == "cls" ? tf::engine::Pooling::Cls : tf::engine::Pooling::Mean;
            EXPECT_EQ(tf::engine::model_pooling(*l.model), pooling);
            auto e = tf::engine::embed(ctx, tokens, pooling, false);
            ASSERT_TRUE(e.ok()) << e.error().message;
            const std::string bin =
                slurp(tf::test::reference_dir() / "outputs" / p["embedding_file"].get<std::string>());
            ASSERT_EQ(bin.size(), e->size() * 4);
            double norm = 0, diff = 0;
            for (size_t i = 0; i < e->size(); ++i) {
                float r;
                std::memcpy(&r, bin.data() + 4 * i, 4);
                norm += double(r) * r;
                diff += (double((*e)[i]) - r) * (double((*e)[i]) - r);
            }
            const double rel = std::sqrt(diff / norm);
            worst = std::max(worst, rel);
            EXPECT_LE(rel, tolerance);
        }
        std::printf("[embedding %s, %s, %d thread(s)] worst relative difference %.3g\n", name.c_str(),
                    numerics == AttentionNumerics::Float ? "float" : "llama.cpp", threads, worst);
    }
}

INSTANTIATE_TEST_SUITE_P(Models, EncoderEmbedding, ::testing::Values("tiny-bert", "tiny-bert-mean"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (auto& c : n) c = c == '-' ? '_' : c;
                             return n;
                         });

// Scores within 1e-6 relative under llama.cpp's numerics (measured 4e-7 at worst).
TEST(Reranker, scores_match_llama_cpp) {
    TF_REQUIRE_REFERENCE();
    Loaded l = load("tiny-bert-rerank");
    ASSERT_TRUE(l.model);
    ASSERT_TRUE(tf::engine::is_reranker(*l.model));
    const auto ref = nlohmann::json::parse(slurp(tf::test::reference_dir() / "outputs/tiny-bert-rerank.json"));
    using tf::model::AttentionNumerics;
    for (auto [numerics, tolerance] :
         {std::pair{AttentionNumerics::LlamaCppCompatible, 1e-6}, std::pair{AttentionNumerics::Float, 4e-3}}) {
        tf::model::Context ctx(*l.model, tf::model::ContextOptions{512, 1, 2, numerics});
        for (const auto& pair : ref["pairs"]) {
            const auto q = pair["query"].get<std::string>(), d = pair["document"].get<std::string>();
            SCOPED_TRACE(q + " | " + d);
            const auto tokens = tf::engine::rerank_pair(l.tokenizer, q, d);
            EXPECT_EQ(tokens, pair["tokens"].get<std::vector<int32_t>>());
            auto score = tf::engine::rerank_score(ctx, tokens);
            ASSERT_TRUE(score.ok()) << score.error().message;
            const float expected = pair["scores"][0].get<float>();
            std::printf("[rerank %s] %.9g (llama.cpp %.9g)\n",
                        numerics == AttentionNumerics::Float ? "float" : "llama.cpp", *score, expected);
            EXPECT_NEAR(*score, expected, tolerance * std::max(1.0f, std::fabs(expected)));
        }
    }
    // A chat model is not a reranker, and an encoder gives no next-token logits.
    tf::model::Context plain(*l.model, tf::model::ContextOptions{512, 1, 1});
    auto logits = plain.decode({101, 2054, 102}, false);
    ASSERT_FALSE(logits.ok());
    EXPECT_NE(logits.error().message.find("encoder"), std::string::npos);
}

}  // namespace
