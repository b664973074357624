// Computes the constraints' next masks on a thread of its own while the model evaluates a step:
// the mask depends only on the tokens already chosen, not on the logits being computed, so a
// mask the grammar has not needed before (milliseconds for a 128k vocabulary) is ready when
// the logits are. Masks are exact either way; only when they are computed changes.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sampling/sampler.h"

namespace tf::engine {

class MaskPrefetch {
  public:
    MaskPrefetch() = default;
    MaskPrefetch(const MaskPrefetch&) = delete;
    MaskPrefetch& operator=(const MaskPrefetch&) = delete;
    ~MaskPrefetch();

    // Starts prepare() on each constraint and returns at once (the thread starts on first use).
    // The constraints must be left alone until wait() returns.
    void start(std::vector<sampling::Constraint*> constraints);
    // Returns once the last start()'s work is done (at once when there is none).
    void wait();

  private:
    void loop();
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<sampling::Constraint*> work_;
    bool busy_ = false, stop_ = false;
    std::thread thread_;
};

}  // namespace tf::engine
