#include <gtest/gtest.h>

#include <set>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "gguf/file.h"
#include "model/hparams.h"
#include "model/synth.h"
#include "util/half.h"
#include "util/sha256.h"

namespace {

std::filesystem::path temp_path(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("tf-synth-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / name;
}

TEST(Synth, tiny_llama_has_the_declared_shapes_and_is_deterministic) {
    tf::model::SynthOptions o;
    o.like = "tiny-llama";
    o.type = tf::TensorType::F16;
    auto a = temp_path("a.gguf"), b = temp_path("b.gguf");
    ASSERT_TRUE(tf::model::synthesize_model(o, a.string()).ok());
    ASSERT_TRUE(tf::model::synthesize_model(o, b.string()).ok());
    auto fa = tf::gguf::File::open(a.string());
    auto fb = tf::gguf::File::open(b.string());
    ASSERT_TRUE(fa.ok() && fb.ok());
    EXPECT_EQ(tf::sha256_hex(fa->bytes()), tf::sha256_hex(fb->bytes()));
    auto hp = tf::model::read_hparams(*fa);
    EXPECT_EQ(hp.arch, "llama");
    EXPECT_EQ(hp.n_embd, 128u);
    EXPECT_EQ(hp.n_vocab, 512u);
    EXPECT_TRUE(hp.missing.empty());
    const auto* q = fa->find_tensor("blk.1.attn_k.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->dims, (std::vector<uint64_t>{128, 64}));
    EXPECT_EQ(q->type, tf::TensorType::F16);
    EXPECT_EQ(fa->find_tensor("output_norm.weight")->type, tf::TensorType::F32);
    // Every token text once: llama.cpp refuses a vocabulary with duplicates.
    const auto* toks = fa->find("tokenizer.ggml.tokens");
    ASSERT_NE(toks, nullptr);
    std::set<std::string> seen;
    for (const auto& t : toks->array_strings()) EXPECT_TRUE(seen.insert(t).second) << t;
    // Weights are small and finite.
    const auto* w = fa->find_tensor("blk.0.ffn_up.weight");
    double sum_sq = 0;
    for (uint64_t i = 0; i < w->n_elements; ++i) {
        uint16_t h;
        std::memcpy(&h, w->data.data() + 2 * i, 2);
        float x = tf::fp16_to_fp32(h);
        ASSERT_TRUE(std::isfinite(x));
        sum_sq += double(x) * x;
    }
    double stddev = std::sqrt(sum_sq / double(w->n_elements));
    EXPECT_NEAR(stddev, 0.02, 0.002);
    std::filesystem::remove_all(a.parent_path());
}

TEST(Synth, shapes_of_real_models_are_exact) {
    const auto* q = tf::model::find_synth_shape("qwen2.5-0.5b");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->n_embd, 896u);
    EXPECT_EQ(q->n_layer, 24u);
    EXPECT_EQ(q->n_head_kv, 2u);
    EXPECT_EQ(q->n_ff, 4864u);
    const auto* l = tf::model::find_synth_shape("llama-3.2-1b");
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->n_vocab, 128256u);
    EXPECT_EQ(l->n_head * l->head_dim, l->n_embd);
}

TEST(Synth, unknown_shape_and_unsupported_type_are_clear_errors) {
    tf::model::SynthOptions o;
    o.like = "gpt-5";
    auto st = tf::model::synthesize_model(o, temp_path("x.gguf").string());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("unknown model shape 'gpt-5'"), std::string::npos);
    o.like = "tiny-llama";
    o.type = tf::TensorType::IQ2_XXS;
    st = tf::model::synthesize_model(o, temp_path("x.gguf").string());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("IQ2_XXS cannot be synthesized"), std::string::npos);
}

}  // namespace
