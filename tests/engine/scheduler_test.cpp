// The continuous-batching scheduler's prefix cache: more distinct prefixes than slots are
// reused, least recently used first out, KV pages reclaimed under pressure — and none of it
// changes a single output token.
#include <gtest/gtest.h>

#include "engine/generate.h"
#include "engine/scheduler.h"
#include "support/grammar_cache.h"
#include "support/reference.h"
#include "support/reference_model.h"

namespace {

using tf::engine::Scheduler;
using tf::engine::SchedulerOptions;

using Loaded = tf::test::LoadedModel;
Loaded load(const std::string& name) { return tf::test::load_reference_model(name); }

// A prompt: `n` tokens of prefix family `family`, then a short request-specific tail.
std::vector<int32_t> prompt(int family, int n, int tail) {
    std::vector<int32_t> p;
    for (int i = 0; i < n; ++i) p.push_back(100 + (family * 7919 + i * 131) % 5000);
    for (int i = 0; i < 4; ++i) p.push_back(200 + tail * 17 + i);
    return p;
}

struct Answer {
    std::vector<std::string> text;
    int reused = 0;
    std::string error;
};

Answer run(Scheduler& s, const std::vector<int32_t>& p) {
    tf::engine::GenerationRequest r;
    r.prompt = p;
    r.options.max_tokens = 8;
    r.options.ignore_eos = true;
    r.options.sampling.temperature = 0;
    Answer a;
    auto job = s.submit(std::move(r));
    if (!job.ok()) {
        a.error = job.error().message;
        return a;
    }
    while (true) {
        tf::engine::JobEvent e;
        if (!(*job)->next(e, 30000)) {
            a.error = "timeout";
            return a;
        }
        a.text.push_back(e.text);
        if (!e.error.empty()) a.error = e.error;
        if (e.done) {
            a.reused = e.timings.n_reused;
            return a;
        }
    }
}

SchedulerOptions options(int slots, int ctx, int cache) {
    SchedulerOptions o;
    o.n_slots = slots;
    o.n_ctx_per_slot = ctx;
    o.n_threads = 1;
    o.prefix_cache = cache;
    return o;
}

TEST(PrefixCache, more_prefixes_than_slots_are_reused_and_outputs_do_not_change) {
    TF_REQUIRE_REFERENCE();
    auto l = load("vocab-llama3-llama-Q8_0");
    ASSERT_TRUE(l.tok);
    const std::vector<std::vector<int32_t>> order = {prompt(0, 96, 0), prompt(1, 96, 1), prompt(2, 96, 2),
                                                     prompt(0, 96, 3), prompt(1, 96, 4), prompt(2, 96, 5)};
    std::vector<Answer> plain, cached;
    {
        Scheduler s(*l.model, *l.tok, options(1, 2048, 0));
        for (const auto& p : order) plain.push_back(run(s, p));
    }
    // 2048 cells: room for every entry, so nothing is evicted.
    Scheduler s(*l.model, *l.tok, options(1, 2048, 8));
    for (const auto& p : order) cached.push_back(run(s, p));
    for (size_t i = 0; i < order.size(); ++i) {
        ASSERT_EQ(plain[i].error, "");
        ASSERT_EQ(cached[i].error, "");
        EXPECT_EQ(cached[i].text, plain[i].text) << "request " << i;
    }
    // One slot: without the cache the second round finds the slot holding another family.
    for (size_t i = 3; i < 6; ++i) {
        EXPECT_LT(plain[i].reused, 96) << i;
        EXPECT_GE(cached[i].reused, 96) << i;
    }
    const auto st = s.stats();
    EXPECT_EQ(st.cache_hits, 3u);
    EXPECT_EQ(st.cache_evictions, 0u);
    EXPECT_EQ(st.time_to_first_token.count(), 6u);
    EXPECT_EQ(st.inter_token.count(), 6u * 7u);
}

TEST(PrefixCache, the_least_recently_used_entry_goes_first) {
    TF_REQUIRE_REFERENCE();
    auto l = load("vocab-llama3-llama-Q8_0");
    ASSERT_TRUE(l.tok);
    Scheduler s(*l.model, *l.tok, options(1, 512, 2));
    // Slot: A, B, C in turn; the cache keeps A then B; A's reuse must evict B (LRU), not A.
    ASSERT_EQ(run(s, prompt(0, 64, 0)).error, "");
    ASSERT_EQ(run(s, prompt(1, 64, 1)).error, "");
    ASSERT_EQ(run(s, prompt(2, 64, 2)).error, "");
    const Answer a = run(s, prompt(0, 64, 3));
    EXPECT_GE(a.reused, 64);
    const Answer b = run(s, prompt(1, 64, 4));
    EXPECT_LT(b.reused, 64);
    // Now A (twice) is cached and B's reuse pushed C out; A is still there.
    const Answer a3 = run(s, prompt(0, 64, 6));
    EXPECT_GE(a3.reused, 64);
    EXPECT_GE(s.stats().cache_evictions, 1u);
}

TEST(PrefixCache, entries_give_way_when_the_kv_cache_is_needed) {
    TF_REQUIRE_REFERENCE();
    auto l = load("vocab-llama3-llama-Q8_0");
    ASSERT_TRUE(l.tok);
    // 128 cells in all: every cached prompt's pages are needed by the next one.
    std::vector<Answer> plain, cached;
    {
        Scheduler s(*l.model, *l.tok, options(1, 128, 0));
        for (int f = 0; f < 4; ++f) plain.push_back(run(s, prompt(f, 100, f)));
    }
    Scheduler s(*l.model, *l.tok, options(1, 128, 4));
    for (int f = 0; f < 4; ++f) cached.push_back(run(s, prompt(f, 100, f)));
    for (size_t i = 0; i < plain.size(); ++i) {
        ASSERT_EQ(cached[i].error, "") << i;
        EXPECT_EQ(cached[i].text, plain[i].text) << i;
    }
    EXPECT_GE(s.stats().cache_evictions, 3u);
}

// Jump-forward in the server: a constrained request served beside another one gives exactly the
// text and forced-token count of a Session (which appends the grammar's only continuations too),
// and with jump-forward off, exactly the Session's text without it.
TEST(SchedulerJumpForward, forced_tokens_join_the_batch_and_change_nothing) {
    TF_REQUIRE_REFERENCE();
    auto l = load("vocab-llama3-llama-Q8_0");
    ASSERT_TRUE(l.tok);
    auto contract = tf::engine::OutputContract::json_schema(
        tf::test::invoice_schema(), {}, {std::make_shared<const tf::grammar::TokenTrie>(*l.tok), l.tok->vocab().eog_tokens});
    ASSERT_TRUE(contract.ok()) << contract.error().message;
    const auto prompt_ids = l.tok->encode("Invoice 4711 for ACME, paid.", true);
    Scheduler s(*l.model, *l.tok, options(2, 512, 0));
    int total_forced = 0;
    for (uint64_t seed : {1u, 2u, 3u}) {
        for (int variant = 0; variant < 3; ++variant) {
            const bool jump = variant != 1;
            SCOPED_TRACE("seed " + std::to_string(seed) + (jump ? " with" : " without") + " jump-forward" + (variant == 2 ? ", tight limit" : ""));
            tf::engine::GenerateOptions o;
            o.max_tokens = variant == 2 ? 58 : 120;  // 58: the answer must close in time (the shortest takes 55 bytes)
            o.sampling.temperature = 0.8f;
            o.sampling.seed = seed;
            o.jump_forward = jump;
            tf::engine::Session session(*l.model, *l.tok, {512, 1, 1});
            auto want = session.generate(prompt_ids, o, nullptr, **contract);
            ASSERT_TRUE(want.ok()) << want.error().message;

            tf::engine::GenerationRequest r{prompt_ids, o, *contract};
            tf::engine::GenerationRequest other{prompt(seed, 40, 1), {}, nullptr};
            other.options.max_tokens = 60;
            other.options.ignore_eos = true;
            auto job = s.submit(std::move(r));
            auto job2 = s.submit(std::move(other));
            ASSERT_TRUE(job.ok() && job2.ok());
            std::string text;
            tf::engine::JobEvent e;
            while (true) {
                ASSERT_TRUE((*job)->next(e, 60000)) << "timeout";
                ASSERT_EQ(e.error, "");
                text += e.text;
                if (e.done) break;
            }
            EXPECT_EQ(text, want->text);
            EXPECT_EQ(e.timings.n_forced, want->timings.n_forced);
            EXPECT_EQ(e.timings.n_generated, static_cast<int>(want->ids.size()));
            EXPECT_EQ(e.reason, want->stop_reason);
            // The server and a Session judge the answer alike.
            EXPECT_EQ(e.violations.size(), want->violations.size());
            if (!jump) {
                EXPECT_EQ(e.timings.n_forced, 0);
            }
            if (variant == 2) {
                EXPECT_FALSE(nlohmann::ordered_json::parse(text, nullptr, false).is_discarded()) << text;
            }
            total_forced += e.timings.n_forced;
            tf::engine::JobEvent e2;
            while ((*job2)->next(e2, 60000) && !e2.done) {
            }
        }
    }
    EXPECT_GT(total_forced, 0);
}

}  // namespace

namespace {

// Sliding-window layers (Gemma 2, window 16) release what no later position can see: a prompt
// that continues the cached tokens near their end still reuses them, one that shares only an
// older prefix falls back to evaluating from the start — and the answers never change.
TEST(PrefixCache, sliding_window_layers_reuse_what_their_window_still_holds) {
    TF_REQUIRE_REFERENCE();
    auto l = load("tiny-gemma2");
    ASSERT_TRUE(l.tok);
    auto make = [](int tail) {
        std::vector<int32_t> p{1};
        for (int i = 1; i < 200; ++i) p.push_back(3 + (i * 131) % 400);
        for (int i = 0; i < 40; ++i) p.push_back(5 + (tail * 17 + i * 7) % 400);
        return p;
    };
    const auto p1 = make(0), p2 = make(1);
    std::vector<Answer> got[2];
    for (int full = 0; full < 2; ++full) {
        SchedulerOptions o = options(1, 1024, 4);
        o.swa_extra = full ? -1 : 32;
        Scheduler s(*l.model, *l.tok, o);
        for (const auto* p : {&p1, &p1, &p2}) got[full].push_back(run(s, *p));
    }
    Scheduler fresh(*l.model, *l.tok, options(1, 1024, 0));
    for (int full = 0; full < 2; ++full) {
        SCOPED_TRACE(full ? "--swa-full" : "window + 32");
        for (const Answer& a : got[full]) ASSERT_EQ(a.error, "");
        EXPECT_EQ(got[full][0].reused, 0);
        // The same prompt again: all of it but the last token, whose logits are needed.
        EXPECT_EQ(got[full][1].reused, 239);
        EXPECT_EQ(got[full][1].text, got[full][0].text);
    }
    // 247 tokens cached; positions from 247 - 16 + 1 - 32 = 200 are kept (whole pages: 192 on),
    // and the first new token of p2, at 200, would attend back to 185.
    EXPECT_EQ(got[0][2].reused, 0);
    EXPECT_EQ(got[1][2].reused, 200);
    EXPECT_EQ(got[0][2].text, got[1][2].text);
    EXPECT_EQ(got[0][2].text, run(fresh, p2).text);
}

}  // namespace
