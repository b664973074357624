// Sliding-window layers keep only their window: pages no later position can attend to go back
// to the pool, the logits stay bit-identical to a cache that keeps everything, the memory
// written stays bounded by the window, and prefix reuse falls back to recomputation exactly
// when the window is no longer whole.
#include <gtest/gtest.h>

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
using tf::model::KvCache;
using tf::model::Model;

std::unique_ptr<Model> load(const std::string& name) { return tf::test::load_weights(name); }

std::vector<int32_t> tokens(int n, int salt) { return tf::test::synthetic_prompt(n, salt); }

bool same(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

ContextOptions options(int n_ctx, int n_seq, int swa_extra, tf::TensorType kv = tf::TensorType::F16) {
    ContextOptions o;
    o.n_ctx = n_ctx;
    o.n_seq_max = n_seq;
    o.k_type = o.v_type = kv;
    o.swa_extra = swa_extra;
    return o;
}

// Logits of every position: the prompt in chunks of 13, then one token at a time.
std::vector<float> run(Context& ctx, const std::vector<int32_t>& ids, size_t prompt_len) {
    std::vector<float> all;
    for (size_t i = 0; i < ids.size();) {
        const size_t n = i < prompt_len ? std::min<size_t>(13, prompt_len - i) : 1;
        Batch b;
        for (size_t j = i; j < i + n; ++j) b.add(ids[j], static_cast<int32_t>(j), 0, true);
        auto r = ctx.decode(b);
        EXPECT_TRUE(r.ok()) << r.error().message;
        if (!r.ok()) return {};
        all.insert(all.end(), r->begin(), r->end());
        i += n;
    }
    return all;
}

struct Windowed {
    int windowed = 0, full = 0;
    uint32_t window = 0;
};
Windowed layers(const Model& m) {
    Windowed w;
    for (const auto& l : m.layers) {
        if (l.window > 0) ++w.windowed, w.window = l.window;
        else ++w.full;
    }
    return w;
}

TEST(SlidingWindowCache, releasing_old_pages_changes_no_bit_and_bounds_the_memory_written) {
    TF_REQUIRE_REFERENCE();
    for (const char* name : {"tiny-gemma2", "tiny-gemma3", "tiny-gemma3-swa-rope", "tiny-gemma3-Q8_0"}) {
        for (const tf::TensorType kv : {tf::TensorType::F16, tf::TensorType::Q8_0}) {
            SCOPED_TRACE(std::string(name) + " kv " + (kv == tf::TensorType::F16 ? "f16" : "q8_0"));
            auto m = load(name);
            ASSERT_TRUE(m);
            const Windowed w = layers(*m);
            ASSERT_GT(w.windowed, 0);
            const auto ids = tokens(300, 1);
            Context keep(*m, options(512, 1, -1, kv)), slide(*m, options(512, 1, 0, kv));
            const auto a = run(keep, ids, 150), b = run(slide, ids, 150);
            ASSERT_FALSE(a.empty());
            EXPECT_TRUE(same(a, b)) << "releasing pages changed the logits";
            EXPECT_EQ(keep.kv().released_pages(), 0);
            // 300 positions are 10 pages; the window needs at most the pages covering a chunk of
            // 13 and the window before it.
            EXPECT_GE(slide.kv().released_pages(), 300 / KvCache::kPage - 3);
            const uint64_t per_page_layer = keep.kv().bytes() / (keep.kv().capacity() / KvCache::kPage) / m->layers.size();
            const int pages = (300 + KvCache::kPage - 1) / KvCache::kPage;
            const int window_pages = (static_cast<int>(w.window) - 1 + 13 + KvCache::kPage - 1) / KvCache::kPage + 1;
            EXPECT_EQ(keep.kv().peak_bytes(), per_page_layer * pages * m->layers.size());
            EXPECT_LE(slide.kv().peak_bytes(), per_page_layer * (uint64_t(pages) * w.full + uint64_t(window_pages) * w.windowed));
            EXPECT_LT(slide.kv().peak_bytes(), keep.kv().peak_bytes());
        }
    }
}

TEST(SlidingWindowCache, models_without_windows_and_the_default_slack_release_nothing_early) {
    TF_REQUIRE_REFERENCE();
    auto llama = load("tiny-llama");
    ASSERT_TRUE(llama);
    Context plain(*llama, options(512, 1, 0));
    run(plain, tokens(200, 2), 100);
    EXPECT_EQ(plain.kv().released_pages(), 0);
    EXPECT_EQ(plain.seq_reusable(0, 3), 3);

    auto gemma = load("tiny-gemma2");
    ASSERT_TRUE(gemma);
    Context ctx(*gemma, options(1024, 1, ContextOptions::kDefaultSwaExtra));
    run(ctx, tokens(200, 2), 200);  // window 16 + 256 of slack: nothing is out of reach yet
    EXPECT_EQ(ctx.kv().released_pages(), 0);
    EXPECT_EQ(ctx.seq_reusable(0, 1), 1);
}

TEST(SlidingWindowCache, truncation_keeps_what_the_window_still_holds_and_otherwise_forgets_the_sequence) {
    TF_REQUIRE_REFERENCE();
    auto m = load("tiny-gemma3-swa-rope");  // window 8
    ASSERT_TRUE(m);
    const int64_t V = m->hp.n_vocab;
    const auto ids = tokens(200, 3);
    Context ctx(*m, options(512, 2, 16));
    ASSERT_TRUE(ctx.decode(ids, false).ok());
    // Positions from 200 - 8 + 1 - 16 = 177 are kept, in whole pages: from 160.
    ASSERT_EQ(ctx.kv().released_pages(), 5);
    // Position 167 attends back to 160, still held; 166 and 100 would need released ones.
    EXPECT_EQ(ctx.seq_reusable(0, 167), 167);
    EXPECT_EQ(ctx.seq_reusable(0, 166), 0);
    EXPECT_EQ(ctx.seq_reusable(0, 100), 0);
    EXPECT_EQ(ctx.seq_reusable(0, 500), 200);

    // A copy continues exactly as the original would.
    ctx.seq_copy(0, 1);
    auto next = tokens(20, 4);
    Context fresh(*m, options(512, 1, -1));
    std::vector<int32_t> whole(ids);
    whole.insert(whole.end(), next.begin(), next.end());
    auto ref = fresh.decode(whole, true);
    ASSERT_TRUE(ref.ok());
    Batch b;
    for (size_t i = 0; i < next.size(); ++i) b.add(next[i], static_cast<int32_t>(200 + i), 1, true);
    auto got = ctx.decode(b);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(0, std::memcmp(got->data(), ref->data() + 200 * V, got->size() * sizeof(float))) << "continued copy";

    // Cut back within the window: the same logits as computing the shorter prefix from scratch.
    // (At 220 it keeps from 197, in pages from 192.)
    EXPECT_EQ(ctx.seq_truncate(1, 210), 210);
    Batch c;
    c.add(whole[210], 210, 1, true);
    got = ctx.decode(c);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(0, std::memcmp(got->data(), ref->data() + 210 * V, static_cast<size_t>(V) * sizeof(float))) << "cut back";
    EXPECT_EQ(ctx.seq_reusable(1, 199), 199);  // attends back to 192
    EXPECT_EQ(ctx.seq_reusable(1, 198), 0);

    // Cut back past the window: the sequence is forgotten, and evaluating it again from the
    // start gives the reference.
    EXPECT_EQ(ctx.seq_truncate(0, 100), 0);
    EXPECT_EQ(ctx.seq_len(0), 0);
    auto again = ctx.decode(std::vector<int32_t>(whole.begin(), whole.begin() + 101), false);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(0, std::memcmp(again->data(), ref->data() + 100 * V, static_cast<size_t>(V) * sizeof(float))) << "recomputed";
}

TEST(SlidingWindowCache, many_sequences_cycle_through_few_pages) {
    TF_REQUIRE_REFERENCE();
    auto m = load("tiny-gemma2");
    ASSERT_TRUE(m);
    const Windowed w = layers(*m);
    const int64_t V = m->hp.n_vocab;
    Context ctx(*m, options(4096, 4, 0)), alone(*m, options(4096, 1, -1));
    // Four sequences of 600 tokens, interleaved 20 at a time; the last one also alone, keeping
    // every position: its pages are others' recycled ones in the first context, its logits the same.
    for (int step = 0; step < 30; ++step) {
        Batch b, b3;
        for (int s = 0; s < 4; ++s) {
            for (int i = 0; i < 20; ++i) b.add(3 + (step * 20 + i + s) % 400, step * 20 + i, s, i == 19);
        }
        for (int i = 0; i < 20; ++i) b3.add(3 + (step * 20 + i + 3) % 400, step * 20 + i, 0, i == 19);
        auto r = ctx.decode(b);
        auto r3 = alone.decode(b3);
        ASSERT_TRUE(r.ok() && r3.ok());
        ASSERT_EQ(0, std::memcmp(r->data() + 3 * V, r3->data(), static_cast<size_t>(V) * sizeof(float))) << "step " << step;
    }
    EXPECT_GT(ctx.kv().released_pages(), 4 * 15);
    const uint64_t per_page_layer = ctx.kv().bytes() / (ctx.kv().capacity() / KvCache::kPage) / m->layers.size();
    const uint64_t full = uint64_t(600 / KvCache::kPage + 1) * 4 * w.full;
    const uint64_t windowed = uint64_t((w.window - 1 + 20 + KvCache::kPage - 1) / KvCache::kPage + 1) * 4 * w.windowed;
    EXPECT_LE(ctx.kv().peak_bytes(), per_page_layer * (full + windowed));
}

}  // namespace
