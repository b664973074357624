// Continuous batching and the KV cache's sequence operations: a sequence's logits are
// bit-identical whether it is evaluated alone or in a batch with other sequences, and a prefix
// shared by copying (or kept by truncating) gives the same results as recomputing it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "kernels/matmul_panel.h"

#include <cstring>
#include <string>
#include <vector>

#include "model/context.h"
#include "support/reference.h"
#include "support/reference_weights.h"

namespace {

using tf::model::Batch;
using tf::model::Context;
using tf::model::ContextOptions;
using tf::model::Model;

std::unique_ptr<Model> load(const std::string& name) { return tf::test::load_weights(name); }

std::vector<int32_t> prompt(int n, int salt) { return tf::test::synthetic_prompt(n, salt); }

bool same(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

const char* kModels[] = {"tiny-llama", "ladder-llama-Q4_K_M", "tiny-gemma2", "tiny-mixtral-Q8_0", "tiny-phi3-Q8_0",
                         "tiny-gemma3-swa-rope", "tiny-qwen3moe-Q8_0", "tiny-smollm3",
                         "tiny-gpt-oss-MXFP4_MOE"};

TEST(Batching, a_sequence_gives_the_same_logits_alone_or_with_others) {
    TF_REQUIRE_REFERENCE();
    for (const char* name : kModels) {
        SCOPED_TRACE(name);
        auto m = load(name);
        ASSERT_TRUE(m);
        const int64_t V = m->hp.n_vocab;
        const auto a = prompt(29, 0), b = prompt(41, 1), c = prompt(7, 2);

        // Alone: the prompt at once, then 6 tokens one by one.
        Context alone(*m, ContextOptions{256, 1, 1});
        auto ref = alone.decode(a, true);
        ASSERT_TRUE(ref.ok()) << ref.error().message;
        std::vector<float> ref_steps;
        for (int i = 0; i < 6; ++i) {
            auto r = alone.decode({static_cast<int32_t>(10 + i)}, false);
            ASSERT_TRUE(r.ok());
            ref_steps.insert(ref_steps.end(), r->begin(), r->end());
        }

        // Together: the three prompts interleaved in chunks of 5 over two threads, then decode
        // steps that advance all three sequences in one batch.
        Context ctx(*m, ContextOptions{256, 3, 2});
        std::vector<float> got;
        size_t ia = 0, ib = 0, ic = 0;
        while (ia < a.size() || ib < b.size() || ic < c.size()) {
            Batch batch;
            for (int k = 0; k < 5 && ib < b.size(); ++k, ++ib) batch.add(b[ib], static_cast<int32_t>(ib), 1, ib % 3 == 0);
            for (int k = 0; k < 5 && ia < a.size(); ++k, ++ia) batch.add(a[ia], static_cast<int32_t>(ia), 0, true);
            for (int k = 0; k < 5 && ic < c.size(); ++k, ++ic) batch.add(c[ic], static_cast<int32_t>(ic), 2, true);
            auto r = ctx.decode(batch);
            ASSERT_TRUE(r.ok()) << r.error().message;
            size_t row = 0;
            for (size_t i = 0; i < batch.size(); ++i) {
                if (!batch.logits[i]) continue;
                if (batch.seq[i] == 0) got.insert(got.end(), r->begin() + static_cast<long>(row * V), r->begin() + static_cast<long>((row + 1) * V));
                ++row;
            }
        }
        ASSERT_EQ(got.size(), ref->size());
        EXPECT_TRUE(same(got.data(), ref->data(), got.size())) << "prompt logits differ when batched";
        for (int i = 0; i < 6; ++i) {
            Batch batch;
            batch.add(50, ctx.seq_len(2), 2, true);
            batch.add(static_cast<int32_t>(10 + i), ctx.seq_len(0), 0, true);
            batch.add(60, ctx.seq_len(1), 1, false);
            auto r = ctx.decode(batch);
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_TRUE(same(r->data() + V, ref_steps.data() + i * V, static_cast<size_t>(V))) << "decode step " << i;
        }
    }
}

TEST(KvCache, copied_and_truncated_prefixes_match_recomputation) {
    TF_REQUIRE_REFERENCE();
    for (const char* name : {"tiny-llama", "tiny-gemma3-swa-rope"}) {
        SCOPED_TRACE(name);
        auto m = load(name);
        ASSERT_TRUE(m);
        const auto full = prompt(75, 3);  // the prefix ends inside a page: copy-on-write is exercised
        const std::vector<int32_t> prefix(full.begin(), full.begin() + 45), suffix(full.begin() + 45, full.end());

        Context fresh(*m, ContextOptions{256, 1, 1});
        auto ref = fresh.decode(full, false);
        ASSERT_TRUE(ref.ok());

        Context ctx(*m, ContextOptions{256, 3, 1});
        Batch p;
        for (size_t i = 0; i < prefix.size(); ++i) p.add(prefix[i], static_cast<int32_t>(i), 0, false);
        ASSERT_TRUE(ctx.decode(p).ok());
        ctx.seq_copy(0, 1);
        ctx.seq_copy(0, 2);
        EXPECT_EQ(ctx.seq_len(1), 45);
        // Sequence 0 diverges first, writing into the shared page; 1 and 2 must not see it.
        Batch junk;
        for (int i = 0; i < 10; ++i) junk.add(7 + i, 45 + i, 0, false);
        ASSERT_TRUE(ctx.decode(junk).ok());
        Batch s;
        for (size_t i = 0; i < suffix.size(); ++i) s.add(suffix[i], static_cast<int32_t>(45 + i), 1, i + 1 == suffix.size());
        auto got = ctx.decode(s);
        ASSERT_TRUE(got.ok()) << got.error().message;
        EXPECT_TRUE(same(got->data(), ref->data(), ref->size())) << "copied prefix";
        // …and sequence 0 still sees its own continuation, not sequence 1's.
        std::vector<int32_t> diverged(prefix);
        for (int i = 0; i < 10; ++i) diverged.push_back(7 + i);
        diverged.push_back(99);
        Context fresh0(*m, ContextOptions{256, 1, 1});
        auto ref0 = fresh0.decode(diverged, false);
        Batch one;
        one.add(99, 55, 0, true);
        auto got0 = ctx.decode(one);
        ASSERT_TRUE(got0.ok() && ref0.ok());
        EXPECT_TRUE(same(got0->data(), ref0->data(), ref0->size())) << "diverged sequence";

        // Truncating sequence 0 back to the prefix and continuing gives the same again.
        ctx.seq_truncate(0, 45);  // drops the 11 diverged positions
        EXPECT_EQ(ctx.seq_len(0), 45);
        Batch s0 = s;
        for (auto& q : s0.seq) q = 0;
        auto again = ctx.decode(s0);
        ASSERT_TRUE(again.ok()) << again.error().message;
        EXPECT_TRUE(same(again->data(), ref->data(), ref->size())) << "truncated prefix";
    }
}

TEST(KvCache, bad_batches_and_a_full_cache_are_errors_that_change_nothing) {
    TF_REQUIRE_REFERENCE();
    auto m = load("tiny-llama");
    ASSERT_TRUE(m);
    Context ctx(*m, ContextOptions{64, 2, 1});
    Batch gap;
    gap.add(1, 0, 0, false);
    gap.add(5, 2, 0, true);
    auto r = ctx.decode(gap);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("continues at position 1, not 2"), std::string::npos) << r.error().message;
    Batch other;
    other.add(1, 0, 5, true);
    r = ctx.decode(other);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("sequence 5 is outside"), std::string::npos) << r.error().message;

    // 64 cells: two sequences of 40 do not fit; the second fails and leaves the first intact.
    Batch a, b;
    for (int i = 0; i < 40; ++i) a.add(3 + i, i, 0, i == 39), b.add(4 + i, i, 1, i == 39);
    ASSERT_TRUE(ctx.decode(a).ok());
    r = ctx.decode(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("KV cache is full"), std::string::npos) << r.error().message;
    EXPECT_EQ(ctx.seq_len(1), 0);
    EXPECT_EQ(ctx.seq_len(0), 40);
    ctx.seq_clear(0);
    EXPECT_TRUE(ctx.decode(b).ok());
}


// Weights repacked into panels at load (the default on AVX-512 VNNI CPUs) and weights used in
// place give the same logits bit for bit, for a prompt batch and for one-token steps.
TEST(Repack, panels_at_load_change_no_bit_of_the_logits) {
    TF_REQUIRE_REFERENCE();
    int tied_from_panels = 0;  // models whose embedding lookups read the repacked output
    for (const char* name : {"ladder-llama-Q4_0", "ladder-llama-Q8_0", "tiny-qwen2-Q8_0", "ladder-llama-Q4_K_M", "ladder-llama-Q6_K", "ladder-llama-F16",
                             "vocab-llama3-llama-Q8_0"}) {
        std::vector<float> results[2];
        size_t panel_bytes[2] = {0, 0};
        for (int repack = 0; repack < 2; ++repack) {
            ::setenv("TF_REPACK", repack ? "1" : "0", 1);
            auto m = load(name);
            ::unsetenv("TF_REPACK");
            ASSERT_TRUE(m);
            panel_bytes[repack] = m->panel_bytes;
            if (m->tok_embd.panels != nullptr) ++tied_from_panels;
            tf::model::Context ctx(*m, 256, 2);
            std::vector<int32_t> prompt;
            for (int i = 0; i < 20; ++i) prompt.push_back((i * 37 + 5) % static_cast<int32_t>(m->hp.n_vocab));
            auto a = ctx.decode(prompt, true);
            ASSERT_TRUE(a.ok());
            results[repack] = *a;
            for (int step = 0; step < 4; ++step) {
                auto b = ctx.decode({static_cast<int32_t>((step * 11 + 3) % m->hp.n_vocab)}, false);
                ASSERT_TRUE(b.ok());
                results[repack].insert(results[repack].end(), b->begin(), b->end());
            }
        }
        EXPECT_EQ(panel_bytes[0], 0u);
        if (tf::kernels::has_panel_kernel(tf::TensorType::Q8_0)) {
            EXPECT_GT(panel_bytes[1], 0u) << name;
        }
        ASSERT_EQ(results[0].size(), results[1].size());
        EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4), 0) << name;
    }
    if (tf::kernels::has_panel_kernel(tf::TensorType::Q8_0)) {
        EXPECT_GT(tied_from_panels, 0);
    }
}

}  // namespace
