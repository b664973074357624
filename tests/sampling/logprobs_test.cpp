#include "sampling/logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using tf::sampling::token_logprob;

TEST(Logprobs, log_softmax_of_the_raw_logits_with_ordered_alternatives) {
    const std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f, 0.5f};
    double z = 0;
    for (float l : logits) z += std::exp(static_cast<double>(l));
    const auto lp = token_logprob(logits.data(), 5, 4, 3);
    EXPECT_NEAR(lp.logprob, 0.5 - std::log(z), 1e-6);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_EQ(lp.top[0].first, 1);  // ties: the lower id first
    EXPECT_EQ(lp.top[1].first, 2);
    EXPECT_EQ(lp.top[2].first, 0);
    EXPECT_NEAR(lp.top[2].second, 1.0 - std::log(z), 1e-6);
    EXPECT_TRUE(token_logprob(logits.data(), 5, 0, 0).top.empty());
    EXPECT_EQ(token_logprob(logits.data(), 5, 0, 99).top.size(), 5u);
}

TEST(Logprobs, nan_and_infinite_logits_do_not_break_the_ordering) {
    const std::vector<float> logits = {NAN, 2.0f, -INFINITY, 1.0f};
    const auto lp = token_logprob(logits.data(), 4, 1, 4);
    ASSERT_EQ(lp.top.size(), 4u);
    EXPECT_EQ(lp.top[0].first, 1);
    EXPECT_EQ(lp.top[1].first, 3);
}
