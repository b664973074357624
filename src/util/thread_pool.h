// Persistent worker threads for the engine's parallel loops. A decode step of a small model is
// about a millisecond and runs dozens of parallel operations, so dispatch and join must cost
// microseconds: workers spin briefly on an atomic generation counter before sleeping on it
// (C++20 atomic wait, a futex on Linux), and the caller works too instead of waiting.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace tf {

class ThreadPool {
  public:
    // n_threads counts the calling thread: 1 means no workers, everything runs inline.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(task, thread) for task in [0, n_tasks), spread over the threads; returns when all
    // are done. Tasks are claimed dynamically; results must not depend on which thread ran which.
    // Not re-entrant: fn must not call run() on the same pool.
    void run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

    // Splits [0, n) into chunks of at least min_chunk and calls fn(begin, end, thread).
    void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t, int)>& fn);

    static int default_threads();  // hardware concurrency

  private:
    void worker(int index);
    void work(int thread);

    int n_threads_;
    std::vector<std::thread> workers_;
    alignas(64) std::atomic<uint64_t> generation_{0};
    alignas(64) std::atomic<int64_t> next_task_{0};
    alignas(64) std::atomic<int> pending_{0};
    int64_t n_tasks_ = 0;
    const std::function<void(int64_t, int)>* fn_ = nullptr;
    std::atomic<bool> stop_{false};
};

}  // namespace tf
