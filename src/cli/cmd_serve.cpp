// terraferma serve -m MODEL [-m NAME=MODEL]... [--host 127.0.0.1] [--port 8080] [--parallel N] [--api-key KEY]
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "cli/command.h"
#include "cli/kv_cache_flags.h"
#include "hub/store.h"
#include "router/router.h"
#include "server/http_server.h"
#include "util/thread_pool.h"

namespace tf::cli {

void add_serve_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::vector<std::string> models;
        std::string pooling;
        std::string routes;
        int drain_timeout = 30;
        server::HttpOptions http;
        int parallel = 4, ctx = 4096, threads = 0, queue = 64, prefix_cache = 8;
        std::string keep_alive;
        bool serve_store = false;
        size_t max_body_mb = 8;
        double max_memory_mb = 0;
    };
    auto a = std::make_shared<Args>();
    auto kv = std::make_shared<KvCacheFlags>();
    CLI::App* app =
        root.add_subcommand("serve", "Serve the OpenAI-compatible (/v1/) and Ollama-compatible (/api/) APIs over HTTP");
    app->add_option("-m,--model", a->models,
                    "GGUF model to serve: PATH, a store name, or NAME=PATH (repeat for several; requests choose by "
                    "\"model\", the first is loaded at start). Without -m, the model store is served");
    app->add_flag("--store", a->serve_store,
                  "Serve the local model store as well ($TERRAFERMA_MODELS): any stored model by name, listed by "
                  "/api/tags and /v1/models, managed by /api/delete and /api/copy");
    app->add_flag("--allow-pull", a->http.store.allow_pull,
                  "Let clients download models into the store with /api/pull (off: a server does not fetch from the "
                  "internet because a client asked)");
    app->add_flag("--insecure-registry", a->http.store.insecure_registries,
                  "Pull from Ollama registries over plain HTTP (a local mirror)");
    app->add_option("--keep-alive", a->keep_alive,
                    "Seconds (or 5m, 1h) a model stays loaded after its last request; negative: forever "
                    "(default: forever with one model, 5m with several; requests may set keep_alive)");
    app->add_option("--max-memory-mb", a->max_memory_mb,
                    "Memory budget for loaded models (weights + KV cache, MiB); idle models are unloaded to stay "
                    "within it; 0: no limit")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1e9));
    app->add_option("--prefix-cache", a->prefix_cache,
                    "Prompts kept for reuse beyond the slots (LRU, sharing KV pages); 0: only the slots' own")
        ->capture_default_str()
        ->check(CLI::Range(0, 1024));
    app->add_option("--host", a->http.host, "Address to listen on (127.0.0.1: this machine only)")
        ->capture_default_str();
    app->add_option("--port", a->http.port, "Port (0: any free port, printed at start)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    app->add_option("--parallel", a->parallel, "Requests generated at once (continuous batching slots)")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    app->add_option("-c,--ctx-size", a->ctx, "Context per request in tokens")
        ->capture_default_str()
        ->check(CLI::Range(64, 1 << 20));
    app->add_option("-t,--threads", a->threads, "Compute threads (default: all cores)");
    kv->add_to(app);
    app->add_option("--pooling", a->pooling, "Embeddings: mean, cls or last (default: the model's metadata, else mean)")
        ->check(CLI::IsMember({"mean", "cls", "last"}));
    app->add_option("--api-key", a->http.api_key, "Require 'Authorization: Bearer KEY' on every API call");
    app->add_option("--allowed-hosts", a->http.allowed_hosts,
                    "Host names requests may name besides the loopback ones (comma-separated; '.example.com' for a "
                    "domain, '*' for any)")
        ->delimiter(',');
    app->add_option("--cors-origin", a->http.cors_origin,
                    "The web origin whose pages may call the API (CORS), e.g. https://app.example; '*' for any");
    app->add_option("--max-queue", a->queue, "Requests allowed to wait for a slot; more get 503")
        ->capture_default_str()
        ->check(CLI::Range(0, 100000));
    app->add_option("--max-body-mb", a->max_body_mb, "Largest request body accepted (MiB)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    app->add_option("--routes", a->routes,
                    "A TOML file of routes: public model names answered by a cascade of local models and remote "
                    "OpenAI-compatible endpoints, under the privacy guard (see docs/routing.md)")
        ->check(CLI::ExistingFile);
    app->add_option("--drain-timeout", a->drain_timeout,
                    "Seconds SIGTERM waits for running requests to finish (new ones get 503) before stopping")
        ->capture_default_str()
        ->check(CLI::Range(0, 86400));
    app->add_option("--timeout", a->http.request_timeout_s, "Seconds a request may generate before it is cancelled")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    commands.push_back(
        {app, [a, kv]() {
             std::vector<server::ModelSpec> specs;
             for (const std::string& m : a->models) {
                 server::ModelSpec spec = server::parse_model_spec(m);
                 std::error_code exists_ec;
                 if (!std::filesystem::exists(m, exists_ec)) {
                     // A store name ("llama3.2:1b"), alone or as NAME=STORE_NAME.
                     const bool aliased = spec.path != m;
                     auto path = hub::resolve_model_argument(aliased ? spec.path : m);
                     if (path) {
                         auto name = hub::parse_model_name(aliased ? spec.path : m);
                         if (name && !aliased) spec.name = name->display();
                         auto store = hub::Store::open();
                         if (name && store) {
                             if (auto man = store->find(*name); man && *man) spec.digest = (**man).files[0].digest;
                         }
                     }
                     if (path)
                         spec.path = *path;
                     else if (!hub::looks_like_path(aliased ? spec.path : m)) {
                         print_error("serve", path.error().message);
                         return kExitUsage;
                     }
                 }
                 for (const auto& other : specs) {
                     if (other.name == spec.name) {
                         print_error("serve", "two models are called '" + spec.name + "'; name them with -m NAME=PATH");
                         return kExitUsage;
                     }
                 }
                 std::error_code ec;
                 if (!std::filesystem::is_regular_file(spec.path, ec)) {
                     print_error("serve", "no model file at '" + spec.path + "'");
                     return kExitUsage;
                 }
                 specs.push_back(std::move(spec));
             }
             a->http.serve_store = a->serve_store || specs.empty() || a->http.store.allow_pull;
             int keep_alive = specs.size() == 1 && !a->http.serve_store ? -1 : 300;
             if (!a->keep_alive.empty()) {
                 auto k = server::parse_duration_seconds(a->keep_alive);
                 if (!k) {
                     print_error("serve", "--keep-alive: " + k.error().message);
                     return kExitUsage;
                 }
                 keep_alive = *k;
             }
             // Signals go to a dedicated thread (blocked here, before any other thread exists).
             sigset_t signals;
             sigemptyset(&signals);
             sigaddset(&signals, SIGINT);
             sigaddset(&signals, SIGTERM);
             pthread_sigmask(SIG_BLOCK, &signals, nullptr);
             // The signal thread runs from here on, so that a SIGTERM while the model loads ends
             // the process at once (nothing to save yet) instead of waiting for the load.
             std::mutex serve_mu;
             server::HttpServer* serving = nullptr;
             bool finished = false;
             // The first signal drains: /ready turns 503, new generation requests are refused with
             // Retry-After, running ones finish (up to --drain-timeout); a second signal stops at once.
             const int drain_timeout = a->drain_timeout;
             std::thread waiter([&serve_mu, &finished, &serving, signals, drain_timeout] {
                 int sig = 0;
                 sigwait(&signals, &sig);
                 {
                     std::lock_guard lock(serve_mu);
                     if (finished) return;
                     if (serving == nullptr) {
                         std::fprintf(stderr, "terraferma: %s received while loading, exiting\n",
                                      sig == SIGINT ? "SIGINT" : "SIGTERM");
                         std::_Exit(kExitOk);
                     }
                     std::fprintf(stderr,
                                  "terraferma: %s received, draining: %zu requests running, new ones refused "
                                  "(again to stop now)\n",
                                  sig == SIGINT ? "SIGINT" : "SIGTERM", serving->inflight());
                     serving->drain();
                 }
                 const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(drain_timeout);
                 const timespec tick{0, 50 * 1000 * 1000};
                 for (;;) {
                     const int again = sigtimedwait(&signals, nullptr, &tick);
                     std::lock_guard lock(serve_mu);
                     if (finished || serving == nullptr) return;
                     if (again > 0 || serving->inflight() == 0 || std::chrono::steady_clock::now() >= deadline) {
                         if (serving->inflight() > 0)
                             std::fprintf(stderr, "terraferma: stopping with %zu requests still running\n",
                                          serving->inflight());
                         serving->stop();
                         return;
                     }
                 }
             });
             struct WaiterStop {
                 std::function<void()> f;
                 ~WaiterStop() { f(); }
             } waiter_stop{[&] {
                 {
                     std::lock_guard lock(serve_mu);
                     finished = true;
                     serving = nullptr;
                 }
                 pthread_kill(waiter.native_handle(), SIGTERM);  // wakes sigwait
                 waiter.join();
             }};

             api::ServiceOptions so;
             so.scheduler.n_slots = a->parallel;
             so.scheduler.n_ctx_per_slot = a->ctx;
             so.scheduler.n_threads = a->threads > 0 ? a->threads : ThreadPool::default_threads();
             so.scheduler.swa_extra = kv->swa_extra();
             if (Status st = kv->types(so.scheduler.k_type, so.scheduler.v_type); !st) {
                 print_error("serve", st.error().message);
                 return kExitUsage;
             }
             so.scheduler.max_queue = a->queue;
             so.scheduler.prefix_cache = a->prefix_cache;
             so.pooling = a->pooling;
             server::PoolOptions po;
             po.service = so;
             po.keep_alive_s = keep_alive;
             po.memory_budget = static_cast<uint64_t>(a->max_memory_mb * 1048576.0);
             server::ModelPool pool(
                 specs, po, a->http.serve_store ? server::store_catalog(a->http.store) : server::ModelCatalog{});
             if (!specs.empty()) {
                 std::fprintf(stderr, "terraferma: loading %s (%s)\n", specs[0].name.c_str(), specs[0].path.c_str());
                 std::fflush(stderr);
                 // The first model now: a bad file fails at start.
                 if (auto first = pool.acquire(specs[0].name, std::nullopt); !first) {
                     print_error("serve", first.error().message);
                     return kExitFailure;
                 }
             }
             if (!a->routes.empty()) {
                 auto config = router::load_route_config(a->routes, [&pool](const std::string& name) {
                     // Exactly a served name (a single served model otherwise answers any name).
                     for (const auto& spec : pool.specs())
                         if (spec.name == name) return true;
                     return false;
                 });
                 if (!config) {
                     print_error("serve", config.error().message);
                     return kExitUsage;
                 }
                 auto r = router::Router::create(std::move(*config));
                 if (!r) {
                     print_error("serve", r.error().message);
                     return kExitUsage;
                 }
                 a->http.router = std::move(*r);
                 for (const auto& route : a->http.router->config().routes) {
                     std::string tiers;
                     for (const auto& t : route.tiers)
                         tiers += (tiers.empty() ? "" : " → ") + t.name + (t.remote ? " (remote)" : "");
                     std::fprintf(stderr, "terraferma: route %s: %s, privacy %s\n", route.name.c_str(), tiers.c_str(),
                                  router::policy_name(route.privacy));
                 }
             }
             a->http.max_body = a->max_body_mb << 20;
             a->http.http_threads = std::max(8, 2 * a->parallel + 4);
             // Every model's slots and queue: beyond, a generation request is refused at once.
             const size_t n_models = std::max<size_t>(specs.size(), 1);
             a->http.max_inflight = static_cast<size_t>(a->parallel + a->queue) * n_models;
             a->http.slots = static_cast<size_t>(a->parallel) * n_models;
             server::HttpServer http(pool, a->http);
             auto port = http.bind();
             if (!port) {
                 print_error("serve", port.error().message);
                 return kExitFailure;
             }
             std::string names;
             for (const auto& spec : specs) names += (names.empty() ? "" : ", ") + spec.name;
             if (a->http.serve_store)
                 names += (names.empty() ? "" : " and ") + std::string("the model store ") +
                          hub::Store::default_root() + (a->http.store.allow_pull ? " (pull allowed)" : "");
             std::fprintf(stderr, "terraferma: serving %s on http://%s:%d (OpenAI: /v1, Ollama: /api; %d parallel)\n",
                          names.c_str(), a->http.host.c_str(), *port, a->parallel);
             std::fflush(stderr);
             {
                 std::lock_guard lock(serve_mu);
                 serving = &http;
             }
             http.run();
             {
                 std::lock_guard lock(serve_mu);
                 serving = nullptr;
             }
             pool.stop();
             return kExitOk;
         }});
}

}  // namespace tf::cli
