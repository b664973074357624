// Hyperparameters of every reference model against the table in ../shared/reference/README.md.
#include <gtest/gtest.h>

#include "gguf/file.h"
#include "model/hparams.h"
#include "support/reference.h"

namespace {

using tf::model::HParams;

struct Row {
    const char* file;
    const char* arch;
    uint32_t vocab, embd, layers, heads, kv, ff, experts, experts_used;
};

// From the reference README's table of tiny models.
const Row kRows[] = {
    {"tiny-llama", "llama", 512, 128, 2, 4, 2, 256, 0, 0},
    {"tiny-mixtral", "llama", 512, 128, 2, 4, 2, 256, 4, 2},
    {"tiny-qwen2", "qwen2", 512, 128, 2, 4, 2, 256, 0, 0},
    {"tiny-qwen3", "qwen3", 512, 128, 2, 4, 2, 256, 0, 0},
    {"tiny-phi3-Q8_0", "phi3", 32064, 64, 2, 2, 2, 128, 0, 0},
    {"tiny-gemma2", "gemma2", 512, 128, 2, 4, 2, 256, 0, 0},
    {"tiny-gemma3", "gemma3", 512, 128, 2, 4, 2, 256, 0, 0},
    {"vocab-llama-spm-llama-Q8_0", "llama", 32000, 64, 2, 2, 1, 128, 0, 0},
    {"vocab-llama3-llama-Q8_0", "llama", 128256, 64, 2, 2, 1, 128, 0, 0},
    {"vocab-qwen2-qwen2-Q8_0", "qwen2", 151669, 64, 2, 2, 1, 128, 0, 0},
    {"tiny-llama3-ropefreqs", "llama", 512, 128, 2, 4, 2, 256, 0, 0},
    {"tiny-phi3-longrope-Q8_0", "phi3", 32064, 64, 2, 2, 2, 128, 0, 0},
    {"tiny-qwen2-yarn", "qwen2", 512, 128, 2, 4, 2, 256, 0, 0},
    {"tiny-gemma3-swa-rope", "gemma3", 512, 128, 4, 4, 2, 256, 0, 0},
    {"ladder-llama-F32", "llama", 512, 256, 2, 4, 2, 768, 0, 0},
    {"ladder-llama-Q4_K_M", "llama", 512, 256, 2, 4, 2, 768, 0, 0},
};

HParams load(const std::string& name) {
    auto f = tf::gguf::File::open((tf::test::reference_dir() / "models" / (name + ".gguf")).string());
    EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
    return tf::model::read_hparams(*f);
}

TEST(HParams, reference_models_match_the_readme_table) {
    TF_REQUIRE_REFERENCE();
    for (const Row& r : kRows) {
        SCOPED_TRACE(r.file);
        HParams hp = load(r.file);
        EXPECT_EQ(hp.arch, r.arch);
        EXPECT_EQ(hp.n_vocab, r.vocab);
        EXPECT_EQ(hp.n_embd, r.embd);
        EXPECT_EQ(hp.n_layer, r.layers);
        EXPECT_EQ(hp.n_head, r.heads);
        EXPECT_EQ(hp.n_head_kv, r.kv);
        EXPECT_EQ(hp.n_ff, r.ff);
        EXPECT_EQ(hp.n_expert, r.experts);
        EXPECT_EQ(hp.n_expert_used, r.experts_used);
        EXPECT_TRUE(hp.missing.empty());
        EXPECT_EQ(hp.n_ctx_train, 512u);
    }
}

TEST(HParams, qwen3_head_size_is_independent_of_embedding_size) {
    TF_REQUIRE_REFERENCE();
    HParams hp = load("tiny-qwen3");
    EXPECT_EQ(hp.n_embd_head_k, 64u);
    EXPECT_EQ(hp.n_embd_head_v, 64u);
    EXPECT_EQ(hp.n_rot, 64u);
    EXPECT_EQ(hp.defaulted.count("key_length"), 0u);
}

TEST(HParams, qwen2_rope_base_and_yarn) {
    TF_REQUIRE_REFERENCE();
    EXPECT_EQ(load("tiny-qwen2").rope_freq_base, 1e6f);
    HParams yarn = load("tiny-qwen2-yarn");
    EXPECT_EQ(yarn.rope_scaling, tf::model::RopeScaling::Yarn);
    EXPECT_EQ(yarn.rope_freq_scale, 0.25f);
    EXPECT_EQ(yarn.rope_orig_ctx, 64u);
}

TEST(HParams, gemma2_window_and_softcaps) {
    TF_REQUIRE_REFERENCE();
    HParams hp = load("tiny-gemma2");
    EXPECT_EQ(hp.sliding_window, 16u);
    EXPECT_EQ(hp.attn_softcap, 50.0f);
    EXPECT_EQ(hp.final_softcap, 30.0f);
    EXPECT_EQ(hp.swa_pattern, 2u);
}

TEST(HParams, gemma3_local_global_rope) {
    TF_REQUIRE_REFERENCE();
    HParams hp = load("tiny-gemma3-swa-rope");
    EXPECT_EQ(hp.sliding_window, 8u);
    EXPECT_EQ(hp.swa_pattern, 2u);
    EXPECT_EQ(hp.rope_freq_base, 1e6f);
    EXPECT_EQ(hp.rope_freq_base_swa, 1e4f);
    EXPECT_EQ(hp.rope_scaling, tf::model::RopeScaling::Linear);
    EXPECT_EQ(hp.rope_freq_scale, 0.125f);
    EXPECT_EQ(load("tiny-gemma3").swa_pattern, 6u);  // llama.cpp's default when the key is absent
}

TEST(HParams, llama3_frequency_factors_and_longrope) {
    TF_REQUIRE_REFERENCE();
    HParams l3 = load("tiny-llama3-ropefreqs");
    EXPECT_TRUE(l3.has_rope_freqs_tensor);
    EXPECT_EQ(l3.rope_freq_base, 5e5f);
    HParams phi = load("tiny-phi3-longrope-Q8_0");
    EXPECT_EQ(phi.rope_scaling, tf::model::RopeScaling::LongRope);
    EXPECT_EQ(phi.rope_orig_ctx, 64u);
}

TEST(HParams, vocabulary_only_files_report_missing_keys_without_failing) {
    TF_REQUIRE_REFERENCE();
    auto f = tf::gguf::File::open((tf::test::reference_dir() / "vocab/ggml-vocab-llama3.gguf").string());
    ASSERT_TRUE(f.ok());
    auto tok = tf::model::read_tokenizer_summary(*f);
    EXPECT_EQ(tok.model, "gpt2");
    EXPECT_EQ(tok.pre, "llama-bpe");
    EXPECT_EQ(tok.n_tokens, 128256u);
    EXPECT_GT(tok.n_merges, 100000u);
}

}  // namespace
