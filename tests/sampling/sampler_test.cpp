// The sampler chain's semantics on hand-made logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "sampling/sampler.h"

namespace {

using tf::sampling::Constraint;
using tf::sampling::Sampler;
using tf::sampling::SamplingParams;

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    return p;
}

SamplingParams pure(float temp) {  // plain softmax sampling, every filter off
    SamplingParams p;
    p.temperature = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

TEST(Sampler, greedy_takes_the_highest_logit_and_the_lower_id_on_ties) {
    Sampler s(greedy(), 5);
    const std::vector<float> l = {0.5f, 3.0f, 1.0f, 3.0f, -1.0f};
    EXPECT_EQ(*s.sample(l.data()), 1);
}

TEST(Sampler, repetition_presence_and_frequency_penalties) {
    SamplingParams p = greedy();
    p.repeat_penalty = 2.0f;
    Sampler s(p, 3);
    const std::vector<float> l = {2.0f, 1.9f, -5.0f};
    EXPECT_EQ(*s.sample(l.data()), 0);
    s.accept(0);
    EXPECT_EQ(*s.sample(l.data()), 1);  // 2.0 / 2 = 1.0 < 1.9

    SamplingParams f = greedy();
    f.frequency_penalty = 0.04f;
    Sampler sf(f, 3);
    sf.accept(0);
    EXPECT_EQ(*sf.sample(l.data()), 0);  // 2.0 - 0.04 > 1.9
    sf.accept(0);
    sf.accept(0);
    EXPECT_EQ(*sf.sample(l.data()), 1);  // 2.0 - 3 * 0.04 < 1.9
    SamplingParams pr = greedy();
    pr.presence_penalty = 0.05f;
    Sampler sp(pr, 3);
    sp.accept(0);
    sp.accept(0);
    EXPECT_EQ(*sp.sample(l.data()), 0);  // presence counts once: 1.95 > 1.9
}

TEST(Sampler, logit_bias_and_bans) {
    SamplingParams p = greedy();
    p.logit_bias = {{2, 10.0f}};
    Sampler s(p, 3);
    const std::vector<float> l = {2.0f, 1.9f, -5.0f};
    EXPECT_EQ(*s.sample(l.data()), 2);
    SamplingParams all = pure(1.0f);
    all.logit_bias = {{0, -INFINITY}, {1, -INFINITY}, {2, -INFINITY}};
    Sampler none(all, 3);
    auto r = none.sample(l.data());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("no token is allowed"), std::string::npos);
    SamplingParams bad = pure(1.0f);
    bad.logit_bias = {{3, 1.0f}};
    EXPECT_FALSE(bad.validate(3).ok());
}

TEST(Sampler, filters_keep_what_they_should) {
    const std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    auto kept = [&](SamplingParams p) {
        Sampler s(p, 4);
        EXPECT_TRUE(s.sample(l.data()).ok());
        std::vector<int> ids;
        for (const auto& c : s.last_candidates()) ids.push_back(c.id);
        return ids;
    };
    SamplingParams k = pure(1.0f);
    k.top_k = 2;
    EXPECT_EQ(kept(k), (std::vector<int>{0, 1}));
    SamplingParams tp = pure(1.0f);
    tp.top_p = 0.85f;
    EXPECT_EQ(kept(tp), (std::vector<int>{0, 1, 2}));  // 0.5 + 0.3 < 0.85 <= 0.95
    SamplingParams mp = pure(1.0f);
    mp.min_p = 0.2f;  // p >= 0.2 * 0.5 = 0.1
    EXPECT_EQ(kept(mp), (std::vector<int>{0, 1, 2}));
    SamplingParams ty = pure(1.0f);
    ty.typical_p = 0.5f;  // surprise closest to the entropy (1.14 nats): id 1 (1.20), then id 0 (0.69)
    EXPECT_EQ(kept(ty), (std::vector<int>{0, 1}));
    ty.typical_p = 0.25f;
    EXPECT_EQ(kept(ty), (std::vector<int>{1}));
}

TEST(Sampler, draws_follow_the_distribution_and_the_seed) {
    const std::vector<float> l = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
    Sampler s(pure(1.0f), 3);
    std::vector<int> count(3);
    const int n = 20000;
    for (int i = 0; i < n; ++i) ++count[static_cast<size_t>(*s.sample(l.data()))];
    EXPECT_NEAR(count[0] / double(n), 0.6, 0.02);
    EXPECT_NEAR(count[1] / double(n), 0.3, 0.02);
    EXPECT_NEAR(count[2] / double(n), 0.1, 0.02);
    // Higher temperature flattens.
    Sampler hot(pure(100.0f), 3);
    std::vector<int> hc(3);
    for (int i = 0; i < n; ++i) ++hc[static_cast<size_t>(*hot.sample(l.data()))];
    EXPECT_NEAR(hc[2] / double(n), 1.0 / 3, 0.03);
    // Same seed, same draws.
    SamplingParams a = pure(1.0f);
    a.seed = 42;
    Sampler x(a, 3), y(a, 3);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(*x.sample(l.data()), *y.sample(l.data()));
}

TEST(Sampler, constraint_masks_before_sampling_and_sees_generated_tokens_only) {
    struct OnlyOdd : Constraint {
        std::vector<int32_t> seen;
        void apply(float* logits, int64_t n) override {
            for (int64_t i = 0; i < n; i += 2) logits[i] = -INFINITY;
        }
        void accept(int32_t t) override { seen.push_back(t); }
    };
    auto c = std::make_shared<OnlyOdd>();
    Sampler s(greedy(), 4);
    s.set_constraint(c);
    const std::vector<float> l = {9.0f, 1.0f, 8.0f, 2.0f};
    s.accept(0, false);
    const int32_t t = *s.sample(l.data());
    EXPECT_EQ(t, 3);
    s.accept(t);
    EXPECT_EQ(c->seen, std::vector<int32_t>{3});
}

// A choice the constraint cannot finish from is replaced by the best one it can; when narrowing
// leaves nothing (every fitting token banned by a bias), the first choice stands.
TEST(Sampler, a_choice_that_does_not_fit_the_budget_is_chosen_again) {
    struct Fitting : Constraint {
        std::vector<int32_t> fitting;
        int narrowed = 0;
        void apply(float*, int64_t) override {}
        void accept(int32_t) override {}
        bool fits(int32_t t) override { return std::find(fitting.begin(), fitting.end(), t) != fitting.end(); }
        void narrow(float* logits, int64_t n) override {
            ++narrowed;
            for (int64_t i = 0; i < n; ++i) {
                if (!fits(static_cast<int32_t>(i))) logits[i] = -INFINITY;
            }
        }
    };
    const std::vector<float> l = {9.0f, 1.0f, 8.0f, 2.0f};
    auto c = std::make_shared<Fitting>();
    c->fitting = {1, 3};
    Sampler s(greedy(), 4);
    s.set_constraint(c);
    EXPECT_EQ(*s.sample(l.data()), 3);
    EXPECT_EQ(c->narrowed, 1);
    c->fitting = {0, 1};
    EXPECT_EQ(*s.sample(l.data()), 0);
    EXPECT_EQ(c->narrowed, 1) << "a choice that fits is not narrowed";

    SamplingParams banned = greedy();
    banned.logit_bias = {{1, -INFINITY}, {3, -INFINITY}};
    Sampler b(banned, 4);
    b.set_constraint(c);
    c->fitting = {1, 3};
    EXPECT_EQ(*b.sample(l.data()), 0);
    ASSERT_EQ(b.last_candidates().size(), 1u);
    EXPECT_EQ(b.last_candidates()[0].id, 0);

    // Sampled, never a token that does not fit.
    Sampler r(pure(1.0f), 4);
    r.set_constraint(c);
    for (int i = 0; i < 200; ++i) {
        const int32_t t = *r.sample(l.data());
        EXPECT_TRUE(t == 1 || t == 3) << t;
    }
}

}  // namespace
