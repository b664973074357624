// Waiting on a queued generation with a wall-clock deadline and a way to notice that nobody
// waits for the answer any more.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/scheduler.h"

namespace tf::api {

using Deadline = std::chrono::steady_clock::time_point;

inline Deadline deadline_after(int seconds) {
    return std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
}

// The next event of a job. While waiting, cancels the job once the deadline passes or
// `client_gone()` says the client left (a cancelled job still ends with a final event).
// The deadline is wall-clock: checked after every event as well as while none comes.
template <typename ClientGone>
engine::JobEvent next_event(engine::Job& job, Deadline deadline, ClientGone client_gone) {
    engine::JobEvent e;
    while (!job.next(e, 200)) {
        if (client_gone() || std::chrono::steady_clock::now() > deadline) job.cancel();
    }
    if (!e.done && std::chrono::steady_clock::now() > deadline) job.cancel();
    return e;
}

// A final event of a job the deadline cancelled.
inline bool timed_out(const engine::JobEvent& e, Deadline deadline) {
    return e.done && e.reason == engine::StopReason::Cancelled && std::chrono::steady_clock::now() > deadline;
}

// Waits for a job to finish, gathering its text (and, with `logprobs`, its tokens'
// log-probabilities); cancels it at the deadline.
inline engine::JobEvent collect(engine::Job& job, std::string& text, Deadline deadline,
                                std::vector<sampling::TokenLogprob>* logprobs = nullptr) {
    while (true) {
        engine::JobEvent e = next_event(job, deadline, [] { return false; });
        if (e.restart) {  // the answer is being drawn again: what came so far is not it
            text.clear();
            if (logprobs != nullptr) logprobs->clear();
            continue;
        }
        text += e.text;
        if (logprobs != nullptr) logprobs->insert(logprobs->end(), e.logprobs.begin(), e.logprobs.end());
        if (e.done) return e;
    }
}

}  // namespace tf::api
