#include "engine/mask_prefetch.h"

namespace tf::engine {

MaskPrefetch::~MaskPrefetch() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void MaskPrefetch::start(std::vector<sampling::Constraint*> constraints) {
    if (constraints.empty()) return;
    {
        std::lock_guard<std::mutex> lock(mu_);
        work_ = std::move(constraints);
        busy_ = true;
        if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    }
    cv_.notify_all();
}

void MaskPrefetch::wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !busy_; });
}

void MaskPrefetch::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return stop_ || busy_; });
        if (stop_ && !busy_) return;
        std::vector<sampling::Constraint*> work = std::move(work_);
        work_.clear();
        lock.unlock();
        for (sampling::Constraint* c : work) {
            // What fails here fails again, and is reported, when apply() needs the mask.
            try {
                c->prepare();
            } catch (...) {
            }
        }
        lock.lock();
        busy_ = false;
        cv_.notify_all();
    }
}

}  // namespace tf::engine
