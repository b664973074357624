// The server under hostile load, through the real binary on 127.0.0.1: slow clients holding
// hundreds of connections, floods beyond the queue, clients that leave mid-answer, bodies that
// never end, requests refused before their bodies are read. Latencies are printed, never
// asserted (a timing does not decide a test); what is asserted is that answers come at all,
// with the right statuses, and that resources are given back.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "support/reference.h"
#include "support/run.h"
#include "support/server.h"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string model_path(const std::string& name) {
    return (tf::test::reference_dir() / "models" / (name + ".gguf")).string();
}

json chat_body(int max_tokens) {
    return {{"model", "any"},
            {"messages", json::array({{{"role", "user"}, {"content", "Tell a long story about the sea."}}})},
            {"max_tokens", max_tokens},
            {"temperature", 1.0},
            {"seed", 7}};
}

int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A metric's value summed over its series ("name{…} value" lines).
double metric(httplib::Client& c, const std::string& name) {
    auto r = c.Get("/metrics");
    if (!r) return -1;
    double sum = 0;
    std::istringstream ss(r->body);
    for (std::string line; std::getline(ss, line);) {
        if (line.rfind(name + "{", 0) == 0 || line.rfind(name + " ", 0) == 0)
            sum += std::atof(line.c_str() + line.rfind(' ') + 1);
    }
    return sum;
}

// 500 connections sending their headers a line at a time hold no thread: /health and a real
// generation still answer; and the slow connections are cut at the header deadline.
TEST(HostileE2E, slowloris_connections_do_not_stop_the_server) {
    TF_REQUIRE_REFERENCE();
    ::signal(SIGPIPE, SIG_IGN);
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1", "--parallel", "2"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    std::vector<int> slow;
    for (int i = 0; i < 500; ++i) {
        const int fd = connect_to(srv.port());
        ASSERT_GE(fd, 0) << "connection " << i;
        ASSERT_TRUE(send_all(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
        slow.push_back(fd);
    }
    for (int fd : slow) send_all(fd, "X-Slow: 1\r\n");  // still coming, one line at a time

    httplib::Client c("127.0.0.1", srv.port());
    c.set_connection_timeout(10, 0);
    c.set_read_timeout(60, 0);
    auto t0 = Clock::now();
    auto health = c.Get("/health");
    const double health_ms = ms_since(t0);
    ASSERT_TRUE(health) << httplib::to_string(health.error());
    EXPECT_EQ(health->status, 200);
    t0 = Clock::now();
    auto chat = c.Post("/v1/chat/completions", chat_body(4).dump(), "application/json");
    const double chat_ms = ms_since(t0);
    ASSERT_TRUE(chat) << httplib::to_string(chat.error());
    EXPECT_EQ(chat->status, 200) << chat->body;
    std::printf("[slowloris] 500 half-open connections: /health in %.1f ms, a 4-token chat in %.1f ms\n", health_ms,
                chat_ms);

    // The header deadline (10 s) closes them: a read sees the end of the stream.
    size_t closed = 0;
    for (int fd : slow) {
        timeval tv{20, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b[256];
        if (::recv(fd, b, sizeof b, 0) <= 0) ++closed;
        ::close(fd);
        if (closed >= 5) break;  // the first few show the deadline; all share it
    }
    EXPECT_EQ(closed, 5u);
    for (size_t i = closed; i < slow.size(); ++i) ::close(slow[i]);
    EXPECT_EQ(srv.stop(), 0) << srv.stderr_text();
}

// Far more requests than slots + queue: the excess is refused at once with 503 and a
// Retry-After, the admitted ones are all answered, /health stays answered.
TEST(HostileE2E, a_flood_beyond_the_queue_gets_fast_503s_and_the_admitted_finish) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1", "--parallel", "2", "--max-queue", "6"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    constexpr int kClients = 200;
    std::atomic<int> ok{0}, busy{0}, other{0}, retry_after{0};
    std::vector<double> refused_ms(kClients, -1);
    std::vector<std::thread> clients;
    std::atomic<bool> go{false};
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&, i] {
            while (!go.load()) std::this_thread::yield();
            httplib::Client c("127.0.0.1", srv.port());
            c.set_read_timeout(120, 0);
            const auto t0 = Clock::now();
            auto r = c.Post("/v1/chat/completions", chat_body(24).dump(), "application/json");
            if (!r) {
                ++other;
            } else if (r->status == 200) {
                ++ok;
            } else if (r->status == 503) {
                ++busy;
                refused_ms[static_cast<size_t>(i)] = ms_since(t0);
                if (!r->get_header_value("Retry-After").empty()) ++retry_after;
            } else {
                ++other;
            }
        });
    }
    go = true;
    httplib::Client h("127.0.0.1", srv.port());
    auto health = h.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    for (auto& t : clients) t.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(ok.load() + busy.load(), kClients);
    EXPECT_GE(ok.load(), 8);  // at least the slots and the queue were answered
    EXPECT_GT(busy.load(), 0);
    EXPECT_EQ(retry_after.load(), busy.load());
    std::vector<double> r;
    for (double v : refused_ms) {
        if (v >= 0) r.push_back(v);
    }
    std::sort(r.begin(), r.end());
    if (!r.empty()) {
        std::printf(
            "[flood] %d clients, --parallel 2 --max-queue 6: %d answered, %d refused (503 p50 %.1f ms, p99 %.1f ms)\n",
            kClients, ok.load(), busy.load(), r[r.size() / 2], r[std::min(r.size() - 1, r.size() * 99 / 100)]);
    }
}

// A client that sends a non-streamed request for 3,000 tokens and leaves: its slot is free
// again long before 3,000 tokens, and the next request is answered.
TEST(HostileE2E, a_client_that_leaves_frees_its_slot) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1", "--parallel", "1", "-c", "8192"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    json body = chat_body(3000);
    body["ignore_eos"] = true;
    const std::string payload = body.dump();
    const int fd = connect_to(srv.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(
        fd,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(payload.size()) + "\r\n\r\n" + payload));
    // Wait until it is being generated, then leave.
    for (int i = 0; i < 400 && metric(c, "terraferma_active_requests") < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_GE(metric(c, "terraferma_active_requests"), 1);
    ::close(fd);
    const auto t0 = Clock::now();
    while (metric(c, "terraferma_active_requests") > 0 && ms_since(t0) < 30000)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const double freed_ms = ms_since(t0);
    EXPECT_EQ(metric(c, "terraferma_active_requests"), 0);
    const double generated = metric(c, "terraferma_generated_tokens_total");
    EXPECT_LT(generated, 3000);
    std::printf("[disconnect] slot freed %.1f ms after the client left, %.0f of 3000 tokens generated\n", freed_ms,
                generated);
    c.set_read_timeout(60, 0);
    auto next = c.Post("/v1/chat/completions", chat_body(4).dump(), "application/json");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
}

// Judged on the headers: a wrong API key or an announced body over the limit is answered at
// once, without waiting for (or reading) the body; a chunked body that never ends is cut at
// the limit with memory flat.
TEST(HostileE2E, refusals_come_before_the_body_and_endless_bodies_are_cut) {
    TF_REQUIRE_REFERENCE();
    ::signal(SIGPIPE, SIG_IGN);
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1", "--api-key", "k", "--max-body-mb", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    auto read_status = [](int fd) {
        timeval tv{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b[512];
        const ssize_t n = ::recv(fd, b, sizeof b - 1, 0);
        if (n <= 0) return std::string();
        b[n] = 0;
        return std::string(b).substr(0, std::string(b).find("\r\n"));
    };
    int fd = connect_to(srv.port());
    ASSERT_TRUE(send_all(fd,
                         "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                         "wrong\r\nContent-Length: 100000000\r\n\r\n"));
    EXPECT_EQ(read_status(fd), "HTTP/1.1 401 Unauthorized");
    ::close(fd);
    fd = connect_to(srv.port());
    ASSERT_TRUE(send_all(fd,
                         "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                         "k\r\nContent-Length: 100000000\r\n\r\n"));
    EXPECT_EQ(read_status(fd), "HTTP/1.1 413 Payload Too Large");
    ::close(fd);

    httplib::Client c("127.0.0.1", srv.port());
    c.set_default_headers({{"Authorization", "Bearer k"}});
    const double rss_before = metric(c, "terraferma_resident_memory_bytes");
    fd = connect_to(srv.port());
    ASSERT_TRUE(send_all(fd,
                         "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                         "k\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
    size_t sent = 0;
    while (sent < (256u << 20) && send_all(fd, chunk)) sent += 0x10000;
    const std::string status = read_status(fd);
    ::close(fd);
    EXPECT_TRUE(status == "HTTP/1.1 413 Payload Too Large" || status.empty()) << status;
    EXPECT_LT(sent, 256u << 20);  // the server stopped reading long before
    const double rss_after = metric(c, "terraferma_resident_memory_bytes");
    EXPECT_LT(rss_after - rss_before, 32.0 * (1 << 20));
    std::printf("[endless body] cut after %zu MiB sent; resident memory %+.1f MiB\n", sent >> 20,
                (rss_after - rss_before) / 1048576.0);
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

// SIGTERM while the model loads ends the process at once with exit 0 (the signal was once lost
// during loading and the server served on). A 135M-parameter F16 model takes long enough to
// load that the signal lands during the load.
TEST(HostileE2E, sigterm_while_loading_exits_cleanly) {
    TF_REQUIRE_REFERENCE();
    const std::string model =
        (std::filesystem::temp_directory_path() / ("tf-smol-" + std::to_string(::getpid()) + ".gguf")).string();
    auto synth = tf::test::run_terraferma({"models", "synth", "--like", "smollm2-135m", model});
    ASSERT_EQ(synth.exit_code, 0) << synth.err;
    tf::test::ServerProcess srv({"-m", model, "-t", "1"}, /*wait_for_port=*/false);
    std::string log;
    for (int i = 0; i < 1000 && (log = srv.stderr_text()).find("loading") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_NE(log.find("loading"), std::string::npos) << log;
    const auto t0 = Clock::now();
    const int code = srv.stop(SIGTERM, 10000);
    const double ms = ms_since(t0);
    log = srv.stderr_text();
    EXPECT_EQ(code, 0) << log;
    EXPECT_NE(log.find("SIGTERM received"), std::string::npos) << log;
    std::printf("[sigterm] %s; exited in %.1f ms\n",
                log.find("serving") == std::string::npos ? "during the load" : "after the load", ms);
    std::filesystem::remove(model);
}

}  // namespace
