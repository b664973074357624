// Embeddings: the hidden states they pool are the ones the (reference-checked) logits are
// computed from, pooling is exact and independent of how the input is batched, errors are
// clear.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/embed.h"
#include "kernels/convert.h"
#include "support/reference.h"

namespace {

using tf::engine::Pooling;

std::unique_ptr<tf::model::Model> load(const std::string& name) {
    auto m = tf::model::Model::load((tf::test::reference_dir() / "models" / (name + ".gguf")).string());
    EXPECT_TRUE(m.ok());
    return m.ok() ? std::move(m.value()) : nullptr;
}

std::vector<int32_t> some_tokens(size_t n, uint32_t n_vocab) {
    std::vector<int32_t> t;
    for (size_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((i * 7919 + 13) % n_vocab));
    return t;
}

// All rows' hidden states in one batch.
std::vector<float> hidden_rows(const tf::model::Model& m, const std::vector<int32_t>& tokens) {
    tf::model::Context ctx(m, tf::model::ContextOptions{1024, 1, 1, tf::model::AttentionNumerics::Float});
    tf::model::Batch b;
    for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], static_cast<int32_t>(i), 0, true);
    auto h = ctx.decode(b, tf::model::Output::Embeddings);
    EXPECT_TRUE(h.ok());
    return h.ok() ? *h : std::vector<float>{};
}

std::vector<float> unit(std::vector<double> v) {
    double n = 0;
    for (double x : v) n += x * x;
    std::vector<float> out;
    for (double x : v) out.push_back(static_cast<float>(x));
    n = 0;
    for (float x : out) n += static_cast<double>(x) * x;
    for (float& x : out) x = static_cast<float>(x * (1.0 / std::sqrt(n)));
    return out;
}

TEST(Embed, hidden_states_project_to_the_logits) {
    TF_REQUIRE_REFERENCE();
    auto m = load("tiny-llama");
    ASSERT_TRUE(m);
    const auto tokens = some_tokens(9, m->hp.n_vocab);
    const int64_t E = m->hp.n_embd;
    const auto h = hidden_rows(*m, tokens);
    ASSERT_EQ(h.size(), tokens.size() * static_cast<size_t>(E));
    tf::model::Context ctx(*m, 1024, 1);
    auto logits = ctx.decode(tokens, false);
    ASSERT_TRUE(logits.ok());
    // logits = output · hidden(last), with the output matrix dequantized here.
    std::vector<float> row(static_cast<size_t>(E));
    double worst = 0;
    const size_t row_bytes = m->output.type == tf::TensorType::F32 ? static_cast<size_t>(E) * 4 : 0;
    ASSERT_GT(row_bytes, 0u) << "the test model's output matrix is expected in F32";
    for (int64_t v = 0; v < m->output.rows(); ++v) {
        tf::kernels::dequantize_row(m->output.type, m->output.data + static_cast<size_t>(v) * row_bytes, row.data(), E);
        double dot = 0;
        for (int64_t e = 0; e < E; ++e) dot += static_cast<double>(row[static_cast<size_t>(e)]) * h[(tokens.size() - 1) * static_cast<size_t>(E) + static_cast<size_t>(e)];
        worst = std::max(worst, std::abs(dot - (*logits)[static_cast<size_t>(v)]));
    }
    EXPECT_LT(worst, 1e-3);
}

TEST(Embed, pooling_is_exact_and_independent_of_chunking) {
    TF_REQUIRE_REFERENCE();
    auto m = load("tiny-llama");
    ASSERT_TRUE(m);
    const size_t E = m->hp.n_embd;
    const auto tokens = some_tokens(300, m->hp.n_vocab);  // more than one internal chunk of 256
    const auto h = hidden_rows(*m, tokens);
    tf::model::Context ctx(*m, 1024, 2);
    std::vector<double> mean(E, 0.0);
    for (size_t t = 0; t < tokens.size(); ++t) {
        for (size_t e = 0; e < E; ++e) mean[e] += h[t * E + e];
    }
    for (double& x : mean) x /= static_cast<double>(tokens.size());
    auto got = tf::engine::embed(ctx, tokens, Pooling::Mean);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, unit(mean)) << "one batch of 300 and chunks of 256 on 2 threads must agree bit for bit";
    double n = 0;
    for (float x : *got) n += static_cast<double>(x) * x;
    EXPECT_NEAR(n, 1.0, 1e-5);

    auto last = tf::engine::embed(ctx, tokens, Pooling::Last);
    auto cls = tf::engine::embed(ctx, tokens, Pooling::Cls);
    ASSERT_TRUE(last.ok() && cls.ok());
    EXPECT_EQ(*last, unit(std::vector<double>(h.end() - static_cast<std::ptrdiff_t>(E), h.end())));
    EXPECT_EQ(*cls, unit(std::vector<double>(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(E))));
    EXPECT_NE(*last, *got);
    EXPECT_EQ(ctx.seq_len(0), 0) << "the context is left empty";
}

TEST(Embed, errors_name_the_problem) {
    TF_REQUIRE_REFERENCE();
    auto m = load("tiny-llama");
    ASSERT_TRUE(m);
    tf::model::Context ctx(*m, 64, 1);
    auto empty = tf::engine::embed(ctx, {}, Pooling::Mean);
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().message.find("no tokens"), std::string::npos);
    auto too_long = tf::engine::embed(ctx, some_tokens(65, m->hp.n_vocab), Pooling::Mean);
    ASSERT_FALSE(too_long.ok());
    EXPECT_NE(too_long.error().message.find("65 tokens"), std::string::npos);
    EXPECT_FALSE(tf::engine::parse_pooling("max").ok());
    EXPECT_EQ(tf::engine::model_pooling(*m), Pooling::Mean);
}

}  // namespace

namespace {

// Inputs packed into shared passes give each the same bits as alone, for an encoder and a
// decoder, whatever the packing (sequences and cells limit it here so that it splits).
TEST(Embed, packed_inputs_equal_single_inputs_bit_for_bit) {
    TF_REQUIRE_REFERENCE();
    for (const char* name : {"tiny-bert-mean", "tiny-llama"}) {
        SCOPED_TRACE(name);
        auto m = load(name);
        ASSERT_TRUE(m);
        const uint32_t V = m->hp.n_vocab;
        std::vector<std::vector<int32_t>> inputs;
        for (size_t n : {5u, 17u, 1u, 40u, 9u, 23u, 3u}) {
            auto t = some_tokens(n, V);
            if (!m->hp.causal) t.front() = 101;  // [CLS] first, as the tokenizer would
            inputs.push_back(t);
        }
        for (auto pooling : {Pooling::Mean, Pooling::Cls, Pooling::Last}) {
            tf::model::Context packed(*m, tf::model::ContextOptions{64, 3, 2});
            tf::model::Context single(*m, tf::model::ContextOptions{64, 1, 1});
            auto many = tf::engine::embed_many(packed, inputs, pooling);
            ASSERT_TRUE(many.ok()) << many.error().message;
            ASSERT_EQ(many->size(), inputs.size());
            for (size_t i = 0; i < inputs.size(); ++i) {
                auto one = tf::engine::embed(single, inputs[i], pooling);
                ASSERT_TRUE(one.ok()) << one.error().message;
                EXPECT_EQ(std::memcmp(one->data(), (*many)[i].data(), one->size() * 4), 0) << "input " << i;
            }
        }
        tf::model::Context small(*m, tf::model::ContextOptions{16, 2, 1});
        auto too_long = tf::engine::embed_many(small, inputs, Pooling::Mean);
        ASSERT_FALSE(too_long.ok());
        EXPECT_NE(too_long.error().message.find("input 1 has 17 tokens"), std::string::npos) << too_long.error().message;
    }
}

}  // namespace
