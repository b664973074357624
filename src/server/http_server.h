// `terraferma serve`: the OpenAI-compatible API under /v1/, the Ollama-compatible API under
// /api/, /health and /metrics, over cpp-httplib. Binds 127.0.0.1 unless told otherwise.
#pragma once

#include <memory>
#include <string>

#include "server/model_pool.h"

namespace httplib {
class Server;
}

namespace tf::server {

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string api_key;              // empty: no authentication
    size_t max_body = 8u << 20;       // bytes
    int request_timeout_s = 600;      // a generation running longer is cancelled
    int http_threads = 8;
};

class HttpServer {
  public:
    HttpServer(ModelPool& models, const HttpOptions& options);
    ~HttpServer();
    // Binds; returns the port (useful with port 0) or an error.
    Result<int> bind();
    // Serves until stop() (from a signal handler thread, say).
    void run();
    void stop();

  private:
    ModelPool& models_;
    HttpOptions o_;
    std::unique_ptr<httplib::Server> http_;
};

}  // namespace tf::server
