// terraferma serve -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--api-key KEY]
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

#include "cli/command.h"
#include "server/http_server.h"
#include "util/thread_pool.h"

namespace tf::cli {

void add_serve_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::vector<std::string> models;
        std::string pooling;
        server::HttpOptions http;
        int parallel = 4, ctx = 4096, threads = 0, queue = 64;
        size_t max_body_mb = 8;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand("serve", "Serve the OpenAI-compatible (/v1/) and Ollama-compatible (/api/) APIs over HTTP");
    app->add_option("-m,--model", a->models, "GGUF model to serve")->required();
    app->add_option("--host", a->http.host, "Address to listen on (127.0.0.1: this machine only)")->capture_default_str();
    app->add_option("--port", a->http.port, "Port (0: any free port, printed at start)")->capture_default_str()->check(CLI::Range(0, 65535));
    app->add_option("--parallel", a->parallel, "Requests generated at once (continuous batching slots)")->capture_default_str()->check(CLI::Range(1, 256));
    app->add_option("-c,--ctx-size", a->ctx, "Context per request in tokens")->capture_default_str()->check(CLI::Range(64, 1 << 20));
    app->add_option("-t,--threads", a->threads, "Compute threads (default: all cores)");
    app->add_option("--pooling", a->pooling, "Embeddings: mean, cls or last (default: the model's metadata, else mean)")->check(CLI::IsMember({"mean", "cls", "last"}));
    app->add_option("--api-key", a->http.api_key, "Require 'Authorization: Bearer KEY' on every API call");
    app->add_option("--max-queue", a->queue, "Requests allowed to wait for a slot; more get 503")->capture_default_str()->check(CLI::Range(0, 100000));
    app->add_option("--max-body-mb", a->max_body_mb, "Largest request body accepted (MiB)")->capture_default_str()->check(CLI::Range(1, 1024));
    app->add_option("--timeout", a->http.request_timeout_s, "Seconds a request may generate before it is cancelled")->capture_default_str()->check(CLI::Range(1, 86400));
    commands.push_back({app, [a]() {
        if (a->models.size() > 1) {
            print_error("serve", "serving several models at once is not supported yet; give one -m");
            return kExitUsage;
        }
        // Signals go to a dedicated thread (blocked here, before any other thread exists).
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);

        server::ServiceOptions so;
        so.scheduler.n_slots = a->parallel;
        so.scheduler.n_ctx_per_slot = a->ctx;
        so.scheduler.n_threads = a->threads > 0 ? a->threads : ThreadPool::default_threads();
        so.scheduler.max_queue = a->queue;
        so.pooling = a->pooling;
        auto svc = server::Service::load(a->models[0], so);
        if (!svc) {
            print_error("serve", svc.error().message);
            return kExitFailure;
        }
        a->http.max_body = a->max_body_mb << 20;
        a->http.http_threads = std::max(8, 2 * a->parallel + 4);
        server::HttpServer http(**svc, a->http);
        auto port = http.bind();
        if (!port) {
            print_error("serve", port.error().message);
            return kExitFailure;
        }
        std::fprintf(stderr, "terraferma: serving %s on http://%s:%d (OpenAI: /v1, Ollama: /api; %d parallel)\n",
                     (*svc)->model_name().c_str(), a->http.host.c_str(), *port, a->parallel);
        std::fflush(stderr);
        std::thread waiter([&] {
            int sig = 0;
            sigwait(&signals, &sig);
            std::fprintf(stderr, "terraferma: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
            http.stop();
        });
        http.run();
        (*svc)->scheduler().stop();
        // If the server stopped on its own, wake the waiter.
        pthread_kill(waiter.native_handle(), SIGTERM);
        waiter.join();
        return kExitOk;
    }});
}

}  // namespace tf::cli
