#include "server/http/server.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <thread>

namespace tf::server::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string Request::get_header_value(const std::string& name) const {
    for (const auto& [k, v] : headers) {
        if (beast::iequals(k, name)) return v;
    }
    return "";
}

namespace {

const char* reason(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Payload Too Large";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

// The status line and headers of a response; a body of `length` bytes, or chunked when < 0.
std::string head_of(const Response& res, long long length, bool close) {
    std::string h = "HTTP/1.1 " + std::to_string(res.status) + " " + reason(res.status) + "\r\n";
    if (!res.content_type.empty()) h += "Content-Type: " + res.content_type + "\r\n";
    for (const auto& [k, v] : res.headers) h += k + ": " + v + "\r\n";
    if (length >= 0)
        h += "Content-Length: " + std::to_string(length) + "\r\n";
    else
        h += "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n";
    if (close) h += "Connection: close\r\n";
    return h + "\r\n";
}

bool is_loopback(const asio::ip::address& a) {
    if (a.is_loopback()) return true;
    return a.is_v6() && a.to_v6().is_v4_mapped() &&
           asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
}

struct Route {
    std::string method, path;
    bool prefix = false;  // `path` is a prefix; the rest of the request's path is matches[1]
    Server::Kind kind;
    Server::Handler handler;
    Server::UploadTarget upload;  // set: the body goes to a file
};

}  // namespace

class Server::Impl {
  public:
    explicit Impl(const Limits& l) : limits_(l), acceptor_(io_), workers_(std::max<size_t>(1, l.workers)) {}

    Limits limits_;
    asio::io_context io_{1};
    tcp::acceptor acceptor_;
    asio::thread_pool workers_;
    std::vector<Route> routes_;
    Gate gate_;
    ErrorWriter error_writer_;
    std::atomic<bool> stopping_{false};
    std::atomic<size_t> inflight_{0};
    std::atomic<bool> draining_{false};
    size_t connections_ = 0;                          // I/O thread only
    std::map<asio::ip::address, size_t> per_client_;  // I/O thread only
    std::set<tcp::socket*> sockets_;                  // I/O thread only: closed on stop()
    std::mutex pace_mu_;
    double mean_heavy_s_ = 0;                  // moving average of generation requests' durations
    std::optional<asio::steady_timer> grace_;  // how long stop() waits for running requests
    std::mutex heavy_mu_;
    std::condition_variable heavy_cv_;
    size_t heavy_threads_ = 0;

    void error(const Request& req, Response& res, int status, const std::string& message) {
        res = Response{};
        res.status = status;
        if (error_writer_)
            error_writer_(req, res, status, message);
        else
            res.set_content(message + "\n", "text/plain");
    }

    const Route* find(Request& req, bool& other_method) {
        other_method = false;
        for (const auto& r : routes_) {
            bool hit = false;
            if (r.prefix) {
                if (req.path.size() > r.path.size() && req.path.compare(0, r.path.size(), r.path) == 0) {
                    hit = true;
                    if (r.method == req.method) {
                        req.matches = {req.path, req.path.substr(r.path.size())};
                        return &r;
                    }
                }
            } else {
                hit = r.path == req.path;
                if (hit && r.method == req.method) return &r;
            }
            other_method |= hit;
        }
        return nullptr;
    }

    void accept() {
        acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec) {
                if (!stopping_ && acceptor_.is_open()) accept();
                return;
            }
            beast::error_code ignored;
            const auto peer = socket.remote_endpoint(ignored);
            const auto addr = peer.address();
            if (connections_ >= limits_.max_connections ||
                (!is_loopback(addr) && per_client_[addr] >= limits_.max_per_client)) {
                socket.close(ignored);  // over a cap: refused before any byte is read
            } else {
                ++connections_;
                ++per_client_[addr];
                asio::co_spawn(io_, session(std::move(socket), addr), asio::detached);
            }
            accept();
        });
    }

    asio::awaitable<void> write_all(tcp::socket& s, const std::string& bytes, beast::error_code& ec) {
        asio::steady_timer deadline(io_);
        deadline.expires_after(std::chrono::seconds(limits_.write_timeout_s));
        deadline.async_wait([&s](beast::error_code e) {
            if (!e) s.cancel();
        });
        co_await asio::async_write(s, asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
        deadline.cancel();
    }

    // One connection: requests one after another (keep-alive), each judged when its headers are in.
    asio::awaitable<void> session(tcp::socket socket, asio::ip::address addr) {
        sockets_.insert(&socket);
        beast::flat_buffer buf;
        beast::error_code ec;
        asio::steady_timer deadline(io_);
        auto arm = [&](int seconds) {
            deadline.expires_after(std::chrono::seconds(seconds));
            deadline.async_wait([&socket](beast::error_code e) {
                if (!e) socket.cancel();
            });
        };
        while (!stopping_) {
            if (buf.size() == 0) {  // idle until the next request's first byte
                arm(limits_.idle_timeout_s);
                const size_t n =
                    co_await socket.async_read_some(buf.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
                deadline.cancel();
                if (ec) break;
                buf.commit(n);
            }
            bhttp::request_parser<bhttp::string_body> parser;
            parser.header_limit(static_cast<uint32_t>(limits_.max_header));
            // The body's limit is set once the request has passed the gate: an unauthenticated
            // client learns nothing of the server's limits.
            // (Not boost::none: Beast 1.74 compares a length with an empty limit as exceeding it.)
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            arm(limits_.header_timeout_s);
            co_await bhttp::async_read_header(socket, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
            deadline.cancel();
            Request req;
            req.remote_addr = addr.to_string();
            Response res;
            if (ec) {
                // Too large or malformed headers get an answer; a timeout or a reset, none.
                const bool unread_body = ec == bhttp::error::body_limit;
                if (ec == bhttp::error::header_limit)
                    error(req, res, 431,
                          "the request's headers are larger than " + std::to_string(limits_.max_header) + " bytes");
                else if (unread_body)
                    error(req, res, 413, too_large());
                else if (ec != asio::error::operation_aborted && ec != asio::error::eof &&
                         ec != bhttp::error::end_of_stream && ec != asio::error::connection_reset)
                    error(req, res, 400, "malformed HTTP request (" + ec.message() + ")");
                else
                    break;
                co_await write_all(socket, head_of(res, static_cast<long long>(res.body.size()), true) + res.body, ec);
                if (!ec && unread_body) co_await linger(socket);
                break;
            }
            auto& msg = parser.get();
            req.method = std::string(msg.method_string());
            req.target = std::string(msg.target());
            req.path = req.target.substr(0, req.target.find('?'));
            for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
            bool close = !msg.keep_alive() || stopping_;
            const bool body_pending = !parser.is_done();

            bool other_method = false;
            const Route* route = nullptr;
            bool answered = false;
            if (gate_ && gate_(req, res))
                answered = true;
            else if (!(route = find(req, other_method))) {
                error(req, res, other_method ? 405 : 404, "no such endpoint: " + req.method + " " + req.path);
                answered = true;
            } else if (parser.content_length() &&
                       *parser.content_length() > (route->upload ? limits_.max_upload : limits_.max_body)) {
                error(req, res, 413, route->upload ? "the upload is larger than the server accepts" : too_large());
                answered = true;
            } else if (route->kind == Kind::Heavy && draining_.load()) {
                error(req, res, 503, "the server is shutting down; retry on another server or shortly");
                std::erase_if(res.headers, [](const auto& h) { return beast::iequals(h.first, "Retry-After"); });
                res.set_header("Retry-After", "5");
                close = true;
                answered = true;
            } else if (route->kind == Kind::Heavy && inflight_.load() >= limits_.max_inflight) {
                error(req, res, 503,
                      "the server is busy: too many requests are being answered or waiting; retry shortly");
                std::erase_if(res.headers, [](const auto& h) { return beast::iequals(h.first, "Retry-After"); });
                res.set_header("Retry-After", std::to_string(expected_wait_s()));
                answered = true;
            }
            bool body_unread = body_pending;  // for the answered branch below
            if (!answered && body_pending && route->upload) {
                const std::string path = route->upload(req, res);
                if (path.empty()) {
                    answered = true;
                } else {
                    if (beast::iequals(req.get_header_value("Expect"), "100-continue")) {
                        co_await write_all(socket, "HTTP/1.1 100 Continue\r\n\r\n", ec);
                        if (ec) break;
                    }
                    const bool complete = co_await read_upload(socket, buf, parser, path, req, res, ec);
                    body_unread = !complete;
                    if (!complete && ec) break;  // the client went away or stalled: no answer
                    if (!complete) answered = true;
                }
            } else if (!answered && body_pending) {
                if (beast::iequals(req.get_header_value("Expect"), "100-continue")) {
                    co_await write_all(socket, "HTTP/1.1 100 Continue\r\n\r\n", ec);
                    if (ec) break;
                }
                parser.body_limit(limits_.max_body);
                arm(limits_.body_timeout_s);
                co_await bhttp::async_read(socket, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
                deadline.cancel();
                if (ec == bhttp::error::body_limit) {
                    error(req, res, 413, too_large());
                    answered = true;
                } else if (ec) {
                    break;
                } else {
                    req.body = std::move(parser.get().body());
                }
                body_unread = !parser.is_done();
            }
            if (answered) {
                // Refused before its body was read: the connection cannot be reused.
                const bool unread_body = body_unread;
                close = close || unread_body;
                co_await write_all(socket, head_of(res, static_cast<long long>(res.body.size()), close) + res.body, ec);
                if (!ec && unread_body) co_await linger(socket);
                if (ec || close) break;
                continue;
            }
            const bool streamed = co_await handle(socket, buf, *route, req, res, close);
            if (!req.body_file.empty()) ::unlink(req.body_file.c_str());  // what the handler did not keep
            if (stopping_ || req.connection->closed()) break;
            if (!streamed) {
                co_await write_all(socket, head_of(res, static_cast<long long>(res.body.size()), close) + res.body, ec);
                if (ec) break;
            }
            if (close) break;
        }
        sockets_.erase(&socket);
        beast::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        --connections_;
        if (--per_client_[addr] == 0) per_client_.erase(addr);
        if (stopping_ && connections_ == 0) io_.stop();
    }

    // Seconds until a refused request would likely be admitted: the queue ahead of it moving by
    // one, at the recent pace of generation requests (an average of their durations).
    int expected_wait_s() {
        std::lock_guard lock(pace_mu_);
        const double slots = static_cast<double>(std::max<size_t>(1, limits_.slots));
        const double queued = std::max(0.0, static_cast<double>(inflight_.load()) - slots + 1);
        return static_cast<int>(std::clamp(std::ceil(mean_heavy_s_ * queued / slots), 1.0, 60.0));
    }
    void heavy_done(double seconds) {
        std::lock_guard lock(pace_mu_);
        mean_heavy_s_ = mean_heavy_s_ <= 0 ? seconds : 0.9 * mean_heavy_s_ + 0.1 * seconds;
    }

    std::string too_large() const {
        return "the request body is larger than the server's --max-body-mb (" + std::to_string(limits_.max_body >> 20) +
               " MiB)";
    }

    // After refusing a request whose body was not read: stop sending, then read and drop what
    // the client is still writing (bounded in bytes and time), so that it gets to read the
    // refusal instead of a reset.
    asio::awaitable<void> linger(tcp::socket& socket) {
        beast::error_code ec;
        socket.shutdown(tcp::socket::shutdown_send, ec);
        asio::steady_timer deadline(io_);
        deadline.expires_after(std::chrono::seconds(5));
        deadline.async_wait([&socket](beast::error_code e) {
            if (!e) socket.cancel();
        });
        std::array<char, 16384> sink;
        size_t drained = 0;
        while (drained <= 4 * limits_.max_body + (1u << 20)) {
            const size_t n =
                co_await socket.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
            drained += n;
        }
        deadline.cancel();
    }

    void run_handler(const Route& route, const Request& req, Response& res) {
        try {
            route.handler(req, res);
        } catch (const std::exception& e) {
            error(req, res, 500, std::string("internal error: ") + e.what());
        } catch (...) {
            error(req, res, 500, "internal error");
        }
    }

    // An upload route's body into `path`, read by pieces with the body deadline re-armed for
    // each (a multi-GB upload takes minutes; a stalled one is cut after body_timeout_s). True
    // when the whole body is on disk (req.body_file set); false with res filled when refused
    // (too large, cannot write), or with ec set when the connection failed.
    asio::awaitable<bool> read_upload(tcp::socket& socket, beast::flat_buffer& buf,
                                      bhttp::request_parser<bhttp::string_body>& header_parser, const std::string& path,
                                      Request& req, Response& res, beast::error_code& ec) {
        bhttp::request_parser<bhttp::file_body> parser{std::move(header_parser)};
        parser.body_limit(limits_.max_upload);
        parser.get().body().open(path.c_str(), beast::file_mode::write, ec);
        if (ec) {
            error(req, res, 500, "cannot write the upload: " + ec.message());
            ec = {};
            co_return false;
        }
        asio::steady_timer deadline(io_);
        while (!parser.is_done()) {
            deadline.expires_after(std::chrono::seconds(limits_.body_timeout_s));
            deadline.async_wait([&socket](beast::error_code e) {
                if (!e) {
                    beast::error_code ignored;
                    socket.cancel(ignored);
                }
            });
            co_await bhttp::async_read_some(socket, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
            deadline.cancel();
            if (ec) break;
        }
        parser.get().body().close();
        if (ec == bhttp::error::body_limit) {
            ::unlink(path.c_str());
            error(req, res, 413, "the upload is larger than the server accepts");
            ec = {};
            co_return false;
        }
        if (ec) {
            ::unlink(path.c_str());
            co_return false;
        }
        req.body_file = path;
        co_return true;
    }

    // Runs the route's handler off the I/O thread (Inline ones on it) while watching the socket
    // for the client leaving; a streamed response is written as the handler produces it.
    // Returns whether the response was streamed (already written).
    asio::awaitable<bool> handle(tcp::socket& socket, beast::flat_buffer& buf, const Route& route, Request& req,
                                 Response& res, bool close) {
        if (route.kind == Kind::Inline) {
            run_handler(route, req, res);
            co_return false;
        }
        // The handler's end wakes this coroutine by cancelling `finished`.
        auto finished = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
        auto watch = req.connection;
        // Watching: a read that ends only when the client closes or resets (bytes of a
        // pipelined request are kept for later, up to a limit).
        auto watching = std::make_shared<bool>(true);
        auto watch_done = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
        std::function<void()> read_more;
        read_more = [&, watching, watch_done, watch]() {
            if (buf.size() > 65536) {  // a client piling up requests is not watched further
                *watching = false;
                watch_done->cancel();
                return;
            }
            socket.async_read_some(buf.prepare(4096), [&, watching, watch_done, watch](beast::error_code e, size_t n) {
                if (e) {
                    if (e != asio::error::operation_aborted || stopping_) watch->close();
                    *watching = false;
                    watch_done->cancel();
                    return;
                }
                buf.commit(n);
                read_more();
            });
        };
        read_more();

        const bool heavy = route.kind == Kind::Heavy;
        if (heavy) ++inflight_;
        auto streamed = std::make_shared<std::atomic<bool>>(false);
        auto work = [this, &route, &req, &res, &socket, finished, streamed, close, heavy]() {
            const auto t0 = std::chrono::steady_clock::now();
            run_handler(route, req, res);
            if (res.provider) {
                streamed->store(true);
                stream_response(socket, req, res, close);
            }
            if (heavy) {
                heavy_done(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
                --inflight_;
            }
            asio::post(io_, [finished] { finished->cancel(); });
        };
        if (heavy)
            spawn_heavy(std::move(work));
        else
            asio::post(workers_, std::move(work));

        beast::error_code ec;
        co_await finished->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (*watching) {
            beast::error_code ignored;
            socket.cancel(ignored);
            co_await watch_done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_return streamed->load();
    }

    // Heavy handlers get a thread each (bounded by admission), so a long generation never
    // holds a worker that others need.
    void spawn_heavy(std::function<void()> work) {
        {
            std::lock_guard lock(heavy_mu_);
            ++heavy_threads_;
        }
        std::thread([this, work = std::move(work)] {
            work();
            std::lock_guard lock(heavy_mu_);
            --heavy_threads_;
            heavy_cv_.notify_all();
        }).detach();
    }

    // Called on a handler thread: writes go through the I/O thread, one at a time, each waited for.
    class Sink : public DataSink {
      public:
        Sink(Impl& s, tcp::socket& socket, std::shared_ptr<ConnectionWatch> watch)
            : s_(s), socket_(socket), watch_(std::move(watch)) {}
        bool write_raw(std::string bytes) {
            if (!ok_ || watch_->closed() || s_.stopping_) return ok_ = false;
            auto state = std::make_shared<std::promise<bool>>();
            auto result = state->get_future();
            auto data = std::make_shared<std::string>(std::move(bytes));
            tcp::socket& socket = socket_;
            asio::post(s_.io_, [&socket, state, data] {
                asio::async_write(socket, asio::buffer(*data),
                                  [state, data](beast::error_code e, size_t) { state->set_value(!e); });
            });
            if (result.wait_for(std::chrono::seconds(s_.limits_.write_timeout_s)) != std::future_status::ready) {
                // A client that does not read: give up on it (the pending write is cancelled;
                // the session, which owns the socket, waits for this handler before closing it).
                asio::post(s_.io_, [&socket] {
                    beast::error_code ignored;
                    socket.cancel(ignored);
                });
                (void)result.wait_for(std::chrono::seconds(2));
                watch_->close();
                return ok_ = false;
            }
            if (!result.get()) {
                watch_->close();
                return ok_ = false;
            }
            return true;
        }
        bool write(const char* data, size_t n) override {
            if (n == 0) return is_writable();
            char size[32];
            std::snprintf(size, sizeof size, "%zx\r\n", n);
            return write_raw(std::string(size) + std::string(data, n) + "\r\n");
        }
        void done() override {
            if (!finished_) write_raw("0\r\n\r\n");
            finished_ = true;
        }
        bool is_writable() const override { return ok_ && !watch_->closed() && !s_.stopping_; }
        bool finished() const { return finished_; }

      private:
        Impl& s_;
        tcp::socket& socket_;
        std::shared_ptr<ConnectionWatch> watch_;
        bool ok_ = true;
        bool finished_ = false;
    };

    void stream_response(tcp::socket& socket, const Request& req, Response& res, bool close) {
        Sink sink(*this, socket, req.connection);
        if (!sink.write_raw(head_of(res, -1, close))) return;
        size_t offset = 0;
        while (!sink.finished() && sink.is_writable()) {
            bool more = false;
            try {
                more = res.provider(offset, sink);
            } catch (...) {
                more = false;
            }
            if (!more) break;
            offset += 1;
        }
        // A provider that stopped without done() leaves a response the client cannot reuse.
        if (!sink.finished()) req.connection->close();
    }
};

Server::Server(const Limits& limits) : impl_(std::make_unique<Impl>(limits)) {}

Server::~Server() {
    stop();
    impl_->workers_.join();
    std::unique_lock lock(impl_->heavy_mu_);
    impl_->heavy_cv_.wait(lock, [this] { return impl_->heavy_threads_ == 0; });
}

void Server::upload_route(const std::string& method, const std::string& path, UploadTarget target, Handler h,
                          bool prefix) {
    impl_->routes_.push_back(Route{method, path, prefix, Kind::Light, std::move(h), std::move(target)});
}

void Server::route(const std::string& method, const std::string& path, Kind kind, Handler h, bool prefix) {
    impl_->routes_.push_back(Route{method, path, prefix, kind, std::move(h), {}});
}
void Server::set_gate(Gate g) {
    impl_->gate_ = std::move(g);
}
void Server::set_error_writer(ErrorWriter w) {
    impl_->error_writer_ = std::move(w);
}

Result<int> Server::bind(const std::string& host, int port) {
    beast::error_code ec;
    const auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return Error{"cannot listen on " + host + ":" + std::to_string(port) + " (not an IP address)"};
    const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    auto& a = impl_->acceptor_;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);  // SO_REUSEADDR only: a second server is refused
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        beast::error_code ignored;
        a.close(ignored);
        return Error{"cannot listen on " + host + ":" + std::to_string(port) + " (" +
                     (ec == asio::error::address_in_use ? std::string("in use") : ec.message()) + ")"};
    }
    return static_cast<int>(a.local_endpoint().port());
}

void Server::run() {
    Impl& s = *impl_;
    if (!s.stopping_) {
        s.accept();
        s.io_.run();
    }
}

void Server::drain() {
    impl_->draining_ = true;
}

bool Server::draining() const {
    return impl_->draining_.load();
}

size_t Server::inflight() const {
    return impl_->inflight_.load();
}

void Server::stop() {
    Impl& s = *impl_;
    if (s.stopping_.exchange(true)) return;
    asio::post(s.io_, [&s] {
        beast::error_code ignored;
        s.acceptor_.close(ignored);
        // Idle connections end; running requests see their connections closed and cancel, and
        // the loop ends with the last connection — or after a grace period.
        for (tcp::socket* sock : s.sockets_) sock->cancel(ignored);
        if (s.connections_ == 0) s.io_.stop();
        s.grace_.emplace(s.io_, std::chrono::seconds(10));
        s.grace_->async_wait([&s](beast::error_code) { s.io_.stop(); });
    });
}

}  // namespace tf::server::http
