// An HTTP request as the API handlers read it and the response they fill, for the event-driven
// server (server.h). A response is either whole (set_content) or streamed (a content provider
// writing chunks through a DataSink, on a handler thread, until done()).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tf::server::http {

// What a handler learns of its connection while it runs: whether the client is gone, and a
// hook called (from the I/O thread) the moment it goes — to cancel the request's generation
// at once instead of at its next poll.
class ConnectionWatch {
  public:
    bool closed() const { return closed_.load(); }
    // Runs `f` when the client disconnects (at once if it already has).
    void on_close(std::function<void()> f) {
        std::unique_lock lock(mu_);
        if (closed_.load()) {
            lock.unlock();
            f();
            return;
        }
        hooks_.push_back(std::move(f));
    }
    void close() {
        std::vector<std::function<void()>> hooks;
        {
            std::lock_guard lock(mu_);
            if (closed_.exchange(true)) return;
            hooks.swap(hooks_);
        }
        for (auto& h : hooks) h();
    }

  private:
    std::atomic<bool> closed_{false};
    std::mutex mu_;
    std::vector<std::function<void()>> hooks_;
};

struct Request {
    std::string method;  // "GET", "POST", …
    std::string path;    // without the query
    std::string target;  // as sent
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string body_file;             // an upload route's body, on disk
    std::vector<std::string> matches;  // a pattern route's: [0] the path, [1…] its groups
    std::string remote_addr;
    std::shared_ptr<ConnectionWatch> connection = std::make_shared<ConnectionWatch>();

    // The first header of that name (case-insensitive); "" when absent.
    std::string get_header_value(const std::string& name) const;
    bool is_connection_closed() const { return connection->closed(); }
};

// Writes a streamed response's chunks; each write returns once the bytes are on their way (or
// false once the client is gone or too slow to read them).
class DataSink {
  public:
    virtual ~DataSink() = default;
    virtual bool write(const char* data, size_t n) = 0;
    virtual void done() = 0;
    virtual bool is_writable() const = 0;
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string content_type;
    // Called repeatedly (offset: bytes written so far) until it calls sink.done() or returns false.
    std::function<bool(size_t, DataSink&)> provider;

    void set_header(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
    void set_content(std::string content, const std::string& type) {
        body = std::move(content);
        content_type = type;
    }
    void set_chunked_content_provider(const std::string& type, std::function<bool(size_t, DataSink&)> p) {
        content_type = type;
        provider = std::move(p);
    }
};

}  // namespace tf::server::http
