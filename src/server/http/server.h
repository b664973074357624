// The event-driven HTTP/1.1 server under `serve`, on Boost.Asio with Boost.Beast's request
// parser (Debian's libboost-dev; why in the README). One I/O thread owns every socket: an idle
// or slow connection costs a socket and a buffer, never a thread, so slow clients cannot starve
// anyone. Deadlines for the first byte, the headers, the body and every write; caps on
// connections in total and per client address; a request is judged (Host, Origin, API key,
// route, admission) as soon as its headers are in, before its body is read.
//
// Handlers run on worker threads — /health (Kind::Inline) on the I/O thread, so
// that generation load cannot delay them. Generation routes (Kind::Heavy) are admitted up to
// `max_inflight` at once; beyond, 503 with Retry-After at once. While a handler runs, the
// connection is watched: a client that leaves closes its ConnectionWatch, whose hooks cancel
// the request's generation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http/message.h"
#include "util/result.h"

namespace tf::server::http {

struct Limits {
    size_t max_body = 8u << 20;     // bytes, whatever the transfer encoding
    size_t max_header = 16u << 10;  // bytes of request line and headers
    int idle_timeout_s = 30;        // a kept-alive connection's wait for its next request
    int header_timeout_s = 10;      // from a request's first byte to its last header
    int body_timeout_s = 60;        // for the body
    int write_timeout_s = 30;       // for each write to a client that does not read
    size_t max_connections = 4096;  // open at once
    size_t max_per_client = 256;    // open at once from one address (loopback exempt)
    size_t slots = 4;               // of the Heavy requests admitted, how many run at once (Retry-After's estimate)
    size_t max_inflight = 64;       // Kind::Heavy requests admitted at once
    size_t workers = 8;             // threads for Kind::Light handlers (Heavy ones get their own)
    uint64_t max_upload = uint64_t(256) << 30;  // bytes of an upload route's body (model files)
};

class Server {
  public:
    enum class Kind {
        Inline,  // answered on the I/O thread: must not block or take a lock held long (health)
        Light,   // a worker thread: quick reads of state
        Heavy,   // admitted against max_inflight, a thread of its own: generation
    };
    using Handler = std::function<void(const Request&, Response&)>;
    // Runs once the headers are in (body not read): true means "answer with res, skip the route".
    using Gate = std::function<bool(const Request&, Response&)>;
    // Fills an error response (the API's own format) for a status the server decides.
    using ErrorWriter = std::function<void(const Request&, Response&, int status, const std::string& message)>;

    explicit Server(const Limits& limits);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // `path` is exact, or with `prefix` a prefix whose remainder (non-empty) is Request::matches[1].
    void route(const std::string& method, const std::string& path, Kind kind, Handler h, bool prefix = false);
    // A route whose body streams to a file instead of memory (a model file is gigabytes): once the
    // headers are in, `target` names the file to write, or fills res and returns "" to refuse
    // before a byte is read. The handler (a worker thread) finds the bytes at
    // Request::body_file; what it leaves there is deleted. The body may be up to max_upload
    // bytes; body_timeout_s then bounds each pause of the transfer, not the whole of it.
    using UploadTarget = std::function<std::string(const Request&, Response&)>;
    void upload_route(const std::string& method, const std::string& path, UploadTarget target, Handler h,
                      bool prefix = false);
    void set_gate(Gate g);
    void set_error_writer(ErrorWriter w);

    // Binds and listens (refusing a port already bound: no SO_REUSEPORT); returns the port.
    Result<int> bind(const std::string& host, int port);
    // Serves until stop(); then waits for running handlers.
    void run();
    // From any thread: stops accepting, closes every connection (their requests are cancelled
    // through their ConnectionWatch), and makes run() return.
    void stop();
    // From any thread: a graceful end's first half. Running requests go on; new generation
    // requests are answered 503 with Retry-After (a load balancer sends them elsewhere) and
    // their connections closed. stop() afterwards, once inflight() is 0 or the patience is out.
    void drain();
    bool draining() const;
    size_t inflight() const;  // generation requests being answered

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tf::server::http
