// Candidate ranking (sampling/rank.h) against plain comparison sorts, and the sampler's choices
// against the chain written the plain way (every candidate collected, std::sort): the fast
// paths must choose the same token with the same seed, on a whole vocabulary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "sampling/rank.h"
#include "sampling/rng.h"
#include "sampling/sampler.h"

namespace {

using tf::sampling::ranks_before;
using tf::sampling::SamplingParams;
using tf::sampling::TokenProb;

// Logits with what makes ranking hard: ties, -0 beside +0, infinities, NaN, denormals, huge values.
std::vector<float> awkward_logits(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 3.0f);
    std::vector<float> l(n);
    for (float& v : l) {
        switch (rng() % 16) {
            case 0: v = static_cast<float>(static_cast<int>(rng() % 5)); break;  // ties
            case 1: v = -0.0f; break;
            case 2: v = -INFINITY; break;
            case 3: v = std::nanf(""); break;
            case 4: v = 1e-42f * static_cast<float>(rng() % 3); break;
            case 5: v = (rng() % 2 ? 1.0f : -1.0f) * 3e38f; break;
            default: v = noise(rng);
        }
    }
    if (n > 7) l[7] = INFINITY;
    return l;
}

std::vector<TokenProb> plain_sorted(const std::vector<float>& l) {
    std::vector<TokenProb> c;
    for (size_t i = 0; i < l.size(); ++i) {
        if (l[i] != -INFINITY && !std::isnan(l[i])) c.push_back({static_cast<int32_t>(i), l[i] == 0.0f ? 0.0f : l[i], 0.0f});
    }
    std::sort(c.begin(), c.end(), ranks_before);
    return c;
}

void expect_same(const std::vector<TokenProb>& a, const std::vector<TokenProb>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].id, b[i].id) << what << " at " << i;
        ASSERT_EQ(std::bit_cast<uint32_t>(a[i].logit), std::bit_cast<uint32_t>(b[i].logit)) << what << " at " << i << " (id " << a[i].id << ")";
    }
}

TEST(Rank, sort_ranked_equals_a_comparison_sort_on_every_size_and_order) {
    for (size_t n : {0, 1, 2, 100, 1023, 1024, 1025, 5000, 128256, 262144}) {
        for (uint32_t seed : {1u, 2u}) {
            const std::vector<float> l = awkward_logits(n, seed);
            const std::vector<TokenProb> want = plain_sorted(l);
            std::vector<TokenProb> c;
            tf::sampling::collect_candidates(l.data(), static_cast<int64_t>(n), c);
            if (seed == 2) std::shuffle(c.begin(), c.end(), std::mt19937(seed));  // not in id order
            tf::sampling::sort_ranked(c);
            expect_same(c, want, "n " + std::to_string(n) + " seed " + std::to_string(seed));
            for (const TokenProb& t : c) ASSERT_EQ(t.p, 0.0f);
        }
    }
}

TEST(Rank, top_k_is_the_head_of_the_sorted_candidates) {
    for (size_t n : {1, 3, 64, 5000, 128256}) {
        const std::vector<float> l = awkward_logits(n, 3);
        const std::vector<TokenProb> all = plain_sorted(l);
        for (size_t k : {1, 2, 40, 1000, 200000}) {
            std::vector<TokenProb> got;
            tf::sampling::top_k_candidates(l.data(), static_cast<int64_t>(n), k, got);
            const std::vector<TokenProb> want(all.begin(), all.begin() + static_cast<long>(std::min(k, all.size())));
            expect_same(got, want, "n " + std::to_string(n) + " k " + std::to_string(k));
        }
    }
    std::vector<TokenProb> none;
    const std::vector<float> banned(10, -INFINITY);
    tf::sampling::top_k_candidates(banned.data(), 10, 3, none);
    EXPECT_TRUE(none.empty());
}

// The sampler chain as it was written before the fast paths: every candidate collected, a
// comparison sort wherever the chain sorts (typical-p left out).
int32_t plain_choice(const std::vector<float>& logits, const SamplingParams& p, tf::sampling::Rng& rng) {
    std::vector<TokenProb> c;
    for (size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] != -INFINITY && !std::isnan(logits[i])) c.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
    }
    if (p.temperature <= 0.0f) return std::min_element(c.begin(), c.end(), ranks_before)->id;
    auto softmax = [](std::vector<TokenProb>& v) {
        float max = -INFINITY;
        for (const TokenProb& t : v) max = std::max(max, t.logit);
        double sum = 0.0;
        for (TokenProb& t : v) {
            t.p = std::exp(t.logit - max);
            sum += t.p;
        }
        for (TokenProb& t : v) t.p = static_cast<float>(t.p / sum);
    };
    bool sorted = false;
    if (p.top_k > 0 && static_cast<size_t>(p.top_k) < c.size()) {
        std::sort(c.begin(), c.end(), ranks_before);
        c.resize(static_cast<size_t>(p.top_k));
    }
    if (p.top_p < 1.0f && c.size() > 1) {
        std::sort(c.begin(), c.end(), ranks_before);
        sorted = true;
        softmax(c);
        double cum = 0.0;
        for (size_t i = 0; i < c.size(); ++i) {
            cum += c[i].p;
            if (cum >= p.top_p) {
                c.resize(i + 1);
                break;
            }
        }
    }
    if (p.min_p > 0.0f && c.size() > 1) {
        float max = -INFINITY;
        for (const TokenProb& t : c) max = std::max(max, t.logit);
        const float floor = max + std::log(p.min_p);
        c.erase(std::remove_if(c.begin(), c.end(), [&](const TokenProb& t) { return t.logit < floor; }), c.end());
    }
    for (TokenProb& t : c) t.logit /= p.temperature;
    if (!sorted) std::sort(c.begin(), c.end(), ranks_before);
    softmax(c);
    const double r = rng.uniform();
    double cum = 0.0;
    for (const TokenProb& t : c) {
        cum += t.p;
        if (r < cum) return t.id;
    }
    return c.back().id;
}

TEST(Rank, the_sampler_chooses_as_the_plain_chain_does) {
    constexpr int64_t kVocab = 128256;
    struct Case {
        const char* name;
        float temperature;
        int top_k;
        float top_p, min_p;
    };
    const Case cases[] = {
        {"greedy", 0.0f, 40, 0.95f, 0.05f},      {"defaults", 0.8f, 40, 0.95f, 0.05f},  {"top-k only", 1.0f, 40, 1.0f, 0.0f},
        {"openai defaults", 1.0f, 0, 1.0f, 0.0f}, {"top-p only", 0.7f, 0, 0.9f, 0.0f},   {"min-p only", 1.3f, 0, 1.0f, 0.02f},
    };
    std::mt19937 rng(11);
    std::normal_distribution<float> noise(0.0f, 2.5f);
    std::vector<float> logits(static_cast<size_t>(kVocab));
    for (const Case& k : cases) {
        SamplingParams p;
        p.temperature = k.temperature;
        p.top_k = k.top_k;
        p.top_p = k.top_p;
        p.min_p = k.min_p;
        p.seed = 5;
        tf::sampling::Sampler s(p, kVocab);
        tf::sampling::Rng plain_rng(p.seed);
        for (int step = 0; step < 12; ++step) {
            for (float& v : logits) v = noise(rng);
            for (int i = 0; i < 30; ++i) logits[rng() % kVocab] = 8.0f + static_cast<float>(i % 5);  // peaks, with ties
            auto got = s.sample(logits.data());
            ASSERT_TRUE(got.ok());
            ASSERT_EQ(*got, plain_choice(logits, p, plain_rng)) << k.name << " step " << step;
        }
    }
}

}  // namespace
