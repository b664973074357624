// A remote OpenAI-compatible endpoint over libcurl: certificate verification always on, the API
// key sent as a bearer token and never written anywhere else, timeouts, retries with backoff
// on connection failures, 429 and 5xx, and a circuit breaker so that an endpoint that is down
// costs nothing per request until it has had time to come back.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "router/route_config.h"
#include "util/result.h"

namespace tf::router {

struct RemoteReply {
    long status = 0;
    std::string body;
};

class RemoteClient {
  public:
    // Reads the key from its environment variable or file; an error names which is missing.
    static Result<std::unique_ptr<RemoteClient>> create(const Endpoint& endpoint);

    // POSTs JSON to url + path ("/chat/completions"). Unavailable (the circuit open, or the
    // endpoint unreachable after its retries) and Upstream (5xx after retries) are errors; any
    // other status is a reply for the caller to read.
    Result<RemoteReply> post(const std::string& path, const std::string& body);
    // The same for a streamed answer: `on_data` gets each server-sent event's data as it
    // arrives (false stops). Retries only while nothing has been passed on.
    Result<long> stream(const std::string& path, const std::string& body,
                        const std::function<bool(std::string_view)>& on_data);

    // Whether a request would be tried now (the circuit closed, or half-open after its pause).
    bool available();
    const Endpoint& endpoint() const { return e_; }

  private:
    explicit RemoteClient(Endpoint e, std::string key) : e_(std::move(e)), key_(std::move(key)) {}
    struct Attempt;
    Result<long> attempt(const std::string& path, const std::string& body, Attempt& a);
    Result<long> with_retries(const std::string& path, const std::string& body, Attempt& a);
    void record(bool ok);

    Endpoint e_;
    std::string key_;
    std::mutex mu_;
    int failures_ = 0;
    std::chrono::steady_clock::time_point open_until_{};
};

}  // namespace tf::router
