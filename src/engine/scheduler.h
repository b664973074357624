// Continuous batching: many generation requests share one model and one context. Each active
// request owns a sequence ("slot") of the KV cache; every step evaluates one batch holding the
// next token of every decoding request plus a chunk of the prompts still being read, so a long
// prompt never stalls the other streams. A finished slot keeps its tokens: the next request
// goes to the free slot sharing the longest prefix with it (the same system prompt and
// instructions for every document are then evaluated once). Each request samples with its own
// parameters, seed and grammar; with the batch-invariant kernels its output does not depend on
// what else runs beside it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/generate.h"
#include "model/context.h"
#include "sampling/logprobs.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace tf::engine {

struct GenerationRequest {
    std::vector<int32_t> prompt;
    GenerateOptions options;
    std::shared_ptr<sampling::Constraint> constraint;  // may be null
};

// What a request produces, consumed by the thread that submitted it.
struct JobEvent {
    std::string text;  // newly completed text (may be empty in the final event)
    bool done = false;
    StopReason reason = StopReason::Length;
    std::string error;  // set when the request failed
    Timings timings;    // final event only
    std::vector<sampling::TokenLogprob> logprobs;  // the tokens generated since the last event, when asked for
};

class Job {
  public:
    // Waits for the next event; false on timeout.
    bool next(JobEvent& out, int timeout_ms);
    void cancel() { cancelled_ = true; }
    bool cancelled() const { return cancelled_; }

  private:
    friend class Scheduler;
    void push(JobEvent e);
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<JobEvent> events_;
    std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
    int n_slots = 4;
    int n_ctx_per_slot = 4096;
    int n_threads = 1;
    int max_batch = 512;   // tokens per forward pass
    int max_queue = 64;    // waiting requests beyond the slots; more are refused
};

struct SchedulerStats {
    uint64_t requests = 0, prompt_tokens = 0, reused_tokens = 0, generated_tokens = 0;
    int active = 0, queued = 0;
};

class Scheduler {
  public:
    Scheduler(const model::Model& model, const tok::Tokenizer& tokenizer, const SchedulerOptions& options);
    ~Scheduler();

    // Queues a request; an error when the queue is full (the server answers 503) or the prompt
    // does not fit a slot.
    Result<std::shared_ptr<Job>> submit(GenerationRequest request);
    SchedulerStats stats();
    // Finishes: queued and running requests end with reason Cancelled.
    void stop();

  private:
    struct Slot;
    void loop();
    void assign();
    void step();
    void finish(Slot& s, StopReason reason, const std::string& error = {});

    const model::Model& model_;
    const tok::Tokenizer& tok_;
    SchedulerOptions o_;
    model::Context ctx_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<GenerationRequest, std::shared_ptr<Job>>> queue_;
    bool stopping_ = false;
    SchedulerStats stats_;
    std::thread thread_;
};

}  // namespace tf::engine
