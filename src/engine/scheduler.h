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
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/generate.h"
#include "engine/output_contract.h"
#include "model/context.h"
#include "sampling/logprobs.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"
#include "util/histogram.h"

namespace tf::engine {

struct GenerationRequest {
    std::vector<int32_t> prompt;
    GenerateOptions options;
    // What the answer must satisfy (may be null): its constraint steers decoding and the
    // finished answer is checked against it (JobEvent::violations).
    std::shared_ptr<const OutputContract> contract;
    // Draws made so far under options.resample, and the request's own seed (set by the scheduler).
    int attempt = 0;
    uint64_t seed0 = 0;
};

// What a request produces, consumed by the thread that submitted it.
struct JobEvent {
    std::string text;  // newly completed text (may be empty in the final event)
    bool done = false;
    StopReason reason = StopReason::Length;
    std::string error;                             // set when the request failed
    Timings timings;                               // final event only
    std::vector<sampling::TokenLogprob> logprobs;  // the tokens generated since the last event, when asked for
    // Final event of a request with a contract: what the whole answer violates (empty: valid).
    std::vector<jsonschema::ValidationError> violations;
    // The answer so far is dropped and drawn again (GenerateOptions::resample): whoever gathers
    // the text starts over. Only for requests not streamed to a client.
    bool restart = false;
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
    std::chrono::steady_clock::time_point submitted_ = std::chrono::steady_clock::now();
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<JobEvent> events_;
    std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
    int n_slots = 4;
    int n_ctx_per_slot = 4096;
    int n_threads = 1;
    int max_batch = 512;                  // tokens per forward pass
    int max_queue = 64;                   // waiting requests beyond the slots; more are refused
    int prefix_cache = 8;                 // prompts kept beyond the slots for reuse (LRU); 0: only the slots' own
    TensorType k_type = TensorType::F16;  // KV cache element types (model::ContextOptions)
    TensorType v_type = TensorType::F16;
    int swa_extra = model::ContextOptions::kDefaultSwaExtra;  // negative: sliding-window layers keep everything
};

struct SchedulerStats {
    uint64_t requests = 0, prompt_tokens = 0, reused_tokens = 0, generated_tokens = 0;
    uint64_t cache_hits = 0;       // requests that started from a prefix cache entry
    uint64_t cache_evictions = 0;  // entries dropped (LRU, or for KV pages)
    int active = 0, queued = 0;
    int cache_entries = 0;  // prefix cache entries holding tokens
    int64_t kv_bytes = 0, kv_free_bytes = 0;
    Histogram time_to_first_token;  // seconds from submission to the first token
    Histogram inter_token;          // seconds between consecutive tokens of a request
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
    struct CacheEntry {
        int seq = 0;
        std::vector<int32_t> tokens;
        uint64_t used = 0;  // LRU clock
    };
    void stash(const Slot& s, const CacheEntry* keep);
    void count_entries();
    CacheEntry* least_recent(const CacheEntry* keep);
    void evict(CacheEntry& e);
    void make_room(const model::Batch& batch);

    const model::Model& model_;
    const tok::Tokenizer& tok_;
    SchedulerOptions o_;
    model::Context ctx_;
    MaskPrefetch prefetch_;  // the next masks of constrained slots, during each forward pass
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<CacheEntry> cache_;  // sequences n_slots .. n_slots + prefix_cache - 1
    uint64_t clock_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<GenerationRequest, std::shared_ptr<Job>>> queue_;
    bool stopping_ = false;
    SchedulerStats stats_;
    std::thread thread_;
};

}  // namespace tf::engine
