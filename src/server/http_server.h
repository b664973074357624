// `terraferma serve`: the OpenAI-compatible API under /v1/, the Ollama-compatible API under
// /api/, /health and /metrics, over the event-driven server of server/http/. Binds 127.0.0.1
// unless told otherwise.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "router/router.h"
#include "server/hub_api.h"
#include "server/model_pool.h"

namespace tf::server::http {
class Server;
}

namespace tf::server {

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string api_key;          // empty: no authentication
    size_t max_body = 8u << 20;   // bytes
    int request_timeout_s = 600;  // a generation running longer is cancelled
    int http_threads = 8;         // workers for quick requests (model lists, show)
    size_t slots = 4;             // generation requests running at once (all models)
    size_t max_inflight = 64;     // generation requests answered or waiting at once; more get 503
    int header_timeout_s = 10;    // a request's headers must arrive within this
    int idle_timeout_s = 30;      // a kept-alive connection may wait this long for its next request
    size_t max_connections = 4096;
    // Host names requests may name (beside the loopback names and the address bound): a page on
    // another site cannot reach a loopback server through DNS rebinding. Empty while bound to a
    // loopback address: loopback names only; bound elsewhere: any host. "*": any host.
    std::vector<std::string> allowed_hosts;
    // The one origin whose pages may call the API (CORS); empty: none but the allowed hosts'
    // own, which get no CORS headers either.
    std::string cors_origin;
    // Serve the local model store (any stored name; /api/tags lists it; /api/delete, /api/copy,
    // and /api/pull when store.allow_pull).
    bool serve_store = false;
    // Routes (--routes FILE): public names answered by a cascade of local models and remote
    // endpoints under the privacy guard; none when null.
    std::shared_ptr<router::Router> router;
    StoreAccess store;
};

// Whether a Host header (or an Origin's host) names this server as `o` allows; exposed for tests.
bool host_allowed(const std::string& host_header, const HttpOptions& o);

class HttpServer {
  public:
    HttpServer(ModelPool& models, const HttpOptions& options);
    ~HttpServer();
    // Binds; returns the port (useful with port 0) or an error.
    Result<int> bind();
    // Serves until stop() (from a signal handler thread, say).
    void run();
    void stop();
    // The graceful end (SIGTERM): /ready answers 503 so a load balancer stops sending, new
    // generation requests get 503 + Retry-After, running ones finish; stop() once inflight() is 0.
    void drain();
    size_t inflight() const;

  private:
    ModelPool& models_;
    HttpOptions o_;
    std::unique_ptr<http::Server> http_;
};

}  // namespace tf::server
