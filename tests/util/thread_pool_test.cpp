#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace {

TEST(ThreadPool, runs_every_task_exactly_once) {
    for (int threads : {1, 2, 3, 8}) {
        tf::ThreadPool pool(threads);
        for (int64_t n : {0, 1, 2, 7, 1000}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            pool.run(n, [&](int64_t t, int thread) {
                EXPECT_GE(thread, 0);
                EXPECT_LT(thread, threads);
                hits[static_cast<size_t>(t)]++;
            });
            for (auto& h : hits) EXPECT_EQ(h.load(), 1);
        }
    }
}

TEST(ThreadPool, parallel_for_covers_the_range_without_overlap) {
    tf::ThreadPool pool(4);
    for (int64_t n : {1, 5, 64, 1001}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, 3, [&](int64_t b, int64_t e, int) {
            for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
}

TEST(ThreadPool, many_small_dispatches_in_a_row) {
    tf::ThreadPool pool(2);
    std::atomic<int64_t> sum{0};
    for (int i = 0; i < 20000; ++i) pool.run(2, [&](int64_t t, int) { sum += t + 1; });
    EXPECT_EQ(sum.load(), 20000 * 3);
}

}  // namespace
