// The models a server offers: each loaded on its first request and unloaded after it has been
// idle for its keep-alive time (Ollama's `keep_alive`: seconds, 0 = as soon as it is idle,
// negative = never), within an optional memory budget that unloads idle models, least
// recently used first, to make room. A request holds its model (a shared_ptr) until its answer
// is sent, so a model is never unloaded under a running request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/service.h"

namespace tf::server {

using api::Service;
using api::ServiceOptions;

struct ModelSpec {
    std::string name;  // what requests call it ("model")
    std::string path;
    std::string digest;         // "sha256:…" when known (models from the store)
    std::string params_json;    // an Ollama registry's parameters layer, when it came with one
    std::string template_text;  // and its template layer (Go template syntax)
    std::string system;         // and its system layer: the default system prompt
};

// Where models beyond the -m ones come from (the local store): `resolve` turns a requested name
// into a spec (or nothing), `list` gives every model it has, for /api/tags and /v1/models.
struct ModelCatalog {
    std::function<std::optional<ModelSpec>(const std::string& name)> resolve;
    std::function<std::vector<ModelSpec>()> list;
};

// "-m PATH" or "-m NAME=PATH"; the name defaults to the file name without ".gguf".
ModelSpec parse_model_spec(const std::string& arg);

// A keep-alive as Ollama writes it: seconds ("300"), or a Go duration ("5m", "1h30m", "10s",
// "500ms"); any negative value means forever (-1).
Result<int> parse_duration_seconds(const std::string& text);

struct PoolOptions {
    ServiceOptions service;
    int keep_alive_s = 300;      // Ollama's default: five minutes
    uint64_t memory_budget = 0;  // bytes of weights + KV cache for all loaded models; 0: no limit
};

class ModelPool {
  public:
    ModelPool(std::vector<ModelSpec> specs, const PoolOptions& options, ModelCatalog catalog = {});
    ~ModelPool();

    // The service for a request's "model" (loaded now if it is not). With one model, any name
    // (or none) means that one — clients send whatever name they were written for. keep_alive:
    // the request's own, else the server's default. Null with `err` (404 unknown model, 503 over
    // the memory budget, 500 load failure).
    api::Result<std::shared_ptr<Service>> acquire(const std::string& name, std::optional<int> keep_alive_s);
    // Unloads a model now if no request holds it (Ollama's keep_alive 0 with an empty prompt).
    bool unload(const std::string& name);

    // The -m models and those the catalog lists, each once.
    std::vector<ModelSpec> specs();
    std::optional<ModelSpec> find(const std::string& name);
    bool has_catalog() const { return static_cast<bool>(catalog_.resolve); }
    // Forgets a model the catalog no longer has (deleted); a loaded one is unloaded when idle.
    void forget(const std::string& name);

    struct Loaded {
        std::string name;
        uint64_t bytes = 0;
        std::shared_ptr<Service> service;
        bool busy = false;
        std::optional<std::chrono::system_clock::time_point> expires;  // none: kept forever
    };
    std::vector<Loaded> loaded();

    // Per model ever loaded: its counters and latency histograms, summed over its loads.
    struct ModelStats {
        std::string name;
        bool loaded = false;
        engine::SchedulerStats stats;
    };
    std::vector<ModelStats> stats();

    // Stops every loaded model's scheduler (shutdown); further requests fail.
    void stop();

    // Bytes a loaded service accounts for: the mapped file and the KV cache.
    static uint64_t footprint(Service& s);

  private:
    struct Entry {
        ModelSpec spec;
        std::shared_ptr<Service> service;
        uint64_t bytes = 0;
        int keep_alive_s = 300;
        std::chrono::steady_clock::time_point idle_since;
        uint64_t used = 0;  // LRU clock
        bool ever_loaded = false;
        engine::SchedulerStats retired;  // what earlier loads counted
    };
    void reap();
    bool idle(const Entry& e) const { return e.service && e.service.use_count() == 1; }
    void drop(Entry& e);
    uint64_t loaded_bytes() const;

    // The entry for a request's model name, added from the catalog when first asked; -1: none.
    long index_locked(const std::string& name);

    PoolOptions o_;
    ModelCatalog catalog_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Entry> entries_;  // one per model: the -m ones, then those asked for from the catalog
    uint64_t clock_ = 0;
    bool stopping_ = false;
    std::thread reaper_;
};

}  // namespace tf::server
