// Serving in a fleet: /ready apart from /health, the graceful drain on SIGTERM (running
// requests finish, new ones get 503 + Retry-After), the prefix-affinity header, and the shipped
// deploy/ files — HAProxy in front of two real servers (affinity by header, a draining server
// left without a failed request), the systemd unit checked by systemd-analyze.
#include <gtest/gtest.h>
#include <httplib.h>
#include <spawn.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/reference.h"
#include "support/server.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string model_path() {
    return (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
}

json chat(const std::string& system, const std::string& user, int max_tokens = 8) {
    json messages = json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    messages.push_back({{"role", "user"}, {"content", user}});
    return {{"model", "tiny"}, {"messages", messages}, {"max_tokens", max_tokens}};
}

// Generation requests a server has accepted (its /metrics), -1 when it cannot be asked.
long requests_total(int port) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/metrics");
    if (!r) return -1;
    const std::string key = "terraferma_requests_total{";
    long n = 0;
    for (size_t at = r->body.find(key); at != std::string::npos; at = r->body.find(key, at + 1)) {
        const size_t sp = r->body.find("} ", at);
        n += std::atol(r->body.c_str() + sp + 2);
    }
    return n;
}

bool busy(int port) {
    httplib::Client c("127.0.0.1", port);
    auto m = c.Get("/metrics");
    return m && m->body.find("terraferma_active_requests{model=\"tiny\"} 1") != std::string::npos;
}

TEST(Fleet, drain_finishes_running_requests_and_refuses_new_ones) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", "tiny=" + model_path(), "-c", "8192", "--parallel", "2", "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(300, 0);
    ASSERT_EQ(c.Get("/ready")->status, 200);
    ASSERT_EQ(c.Get("/health")->status, 200);

    // A long answer: a string of at least 6,000 characters.
    json longer = chat("", "Write", 7000);
    longer["response_format"] = {
        {"type", "json_schema"},
        {"json_schema", {{"name", "s"}, {"schema", {{"type", "string"}, {"minLength", 6000}, {"maxLength", 6100}}}}}};
    int long_status = 0;
    std::string long_content;
    std::thread running([&] {
        httplib::Client lc("127.0.0.1", srv.port());
        lc.set_read_timeout(300, 0);
        auto r = lc.Post("/v1/chat/completions", longer.dump(), "application/json");
        if (!r) return;
        long_status = r->status;
        const json j = json::parse(r->body, nullptr, false);
        if (!j.is_discarded() && j.contains("choices"))
            long_content = j["choices"][0]["message"]["content"].get<std::string>();
    });
    for (int i = 0; i < 2000 && !busy(srv.port()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(busy(srv.port())) << "the long request never started";

    srv.signal(SIGTERM);
    int ready = 200;
    for (int i = 0; i < 200 && ready == 200; ++i) {
        auto r = c.Get("/ready");
        ready = r ? r->status : 0;
        if (ready == 200) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(ready, 503) << "a draining server must leave the pool";
    EXPECT_EQ(c.Get("/health")->status, 200) << "the process is alive while it drains";
    httplib::Client fresh("127.0.0.1", srv.port());
    auto refused = fresh.Post("/v1/chat/completions", chat("", "Hello").dump(), "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503) << refused->body;
    EXPECT_FALSE(refused->get_header_value("Retry-After").empty());

    running.join();
    EXPECT_EQ(long_status, 200) << "the running request was cut off by the drain";
    EXPECT_GE(long_content.size(), 6000u);
    EXPECT_EQ(srv.stop(SIGTERM, 60000), 0) << srv.stderr_text();
    EXPECT_NE(srv.stderr_text().find("draining: 1 requests running"), std::string::npos) << srv.stderr_text();
}

TEST(Fleet, the_prefix_header_names_the_system_prompt) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", "tiny=" + model_path(), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    auto prefix = [&](const json& body, const char* path = "/v1/chat/completions") {
        auto r = c.Post(path, body.dump(), "application/json");
        return r ? r->get_header_value("x-terraferma-prefix") : std::string("(no answer)");
    };
    const std::string a = prefix(chat("You extract invoices.", "doc 1"));
    EXPECT_EQ(a.size(), 16u);
    EXPECT_EQ(prefix(chat("You extract invoices.", "doc 2")), a);
    EXPECT_NE(prefix(chat("You classify tickets.", "doc 1")), a);
    EXPECT_EQ(prefix(chat("", "doc 1")), "");
    // Ollama's API: the same system prompt, the same identity.
    json ollama = {{"model", "tiny"},
                   {"messages", chat("You extract invoices.", "doc 3")["messages"]},
                   {"stream", false},
                   {"options", {{"num_predict", 4}}}};
    EXPECT_EQ(prefix(ollama, "/api/chat"), a);
}

TEST(Fleet, haproxy_keeps_a_prefix_on_one_server_and_drains_without_a_failed_request) {
    TF_REQUIRE_REFERENCE();
    if (std::system("command -v haproxy >/dev/null 2>&1") != 0) GTEST_SKIP() << "no haproxy (scripts/setup.sh)";
    tf::test::ServerProcess one({"-m", "tiny=" + model_path(), "-t", "1", "--parallel", "2"});
    tf::test::ServerProcess two({"-m", "tiny=" + model_path(), "-t", "1", "--parallel", "2"});
    ASSERT_GT(one.port(), 0) << one.stderr_text();
    ASSERT_GT(two.port(), 0) << two.stderr_text();
    const int lb_port = tf::test::free_port();
    const std::string bind = "127.0.0.1:" + std::to_string(lb_port);
    const std::string s1 = "127.0.0.1:" + std::to_string(one.port()), s2 = "127.0.0.1:" + std::to_string(two.port());
    ::setenv("TF_LB_BIND", bind.c_str(), 1);
    ::setenv("TF_SERVER_1", s1.c_str(), 1);
    ::setenv("TF_SERVER_2", s2.c_str(), 1);
    const std::string cfg = std::string(TF_SOURCE_DIR) + "/deploy/haproxy.cfg";
    std::vector<std::string> args = {"haproxy", "-f", cfg, "-db"};
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t lb = -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    ASSERT_EQ(posix_spawnp(&lb, "haproxy", &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    struct Reap {
        pid_t pid;
        ~Reap() {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    } reap{lb};

    httplib::Client c("127.0.0.1", lb_port);
    c.set_read_timeout(120, 0);
    const httplib::Headers affinity = {{"X-Terraferma-Prefix", "5f2c0d1e9a7b3c44"}};
    // Up once both servers passed a check.
    bool up = false;
    for (int i = 0; i < 300 && !up; ++i) {
        auto r = c.Post("/v1/chat/completions", affinity, chat("sys", "hi").dump(), "application/json");
        up = r && r->status == 200;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(up) << "HAProxy never answered";
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // both servers checked
    const long before1 = requests_total(one.port()), before2 = requests_total(two.port());
    for (int i = 0; i < 6; ++i) {
        auto r = c.Post("/v1/chat/completions", affinity, chat("sys", "doc " + std::to_string(i)).dump(),
                        "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << r->body;
    }
    const long d1 = requests_total(one.port()) - before1, d2 = requests_total(two.port()) - before2;
    EXPECT_TRUE((d1 == 6 && d2 == 0) || (d1 == 0 && d2 == 6)) << d1 << " and " << d2;

    // The server holding the prefix drains: every request still gets an answer, from the other.
    tf::test::ServerProcess& holder = d1 == 6 ? one : two;
    tf::test::ServerProcess& other = d1 == 6 ? two : one;
    const long other_before = requests_total(other.port());
    holder.signal(SIGTERM);
    for (int i = 0; i < 6; ++i) {
        auto r = c.Post("/v1/chat/completions", affinity, chat("sys", "after " + std::to_string(i)).dump(),
                        "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << r->body;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(requests_total(other.port()) - other_before, 6);
}

TEST(Fleet, the_systemd_unit_verifies) {
    if (std::system("command -v systemd-analyze >/dev/null 2>&1") != 0) GTEST_SKIP() << "no systemd-analyze";
    std::ifstream in(std::string(TF_SOURCE_DIR) + "/deploy/terraferma.service");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string unit = ss.str();
    const std::string from = "/usr/local/bin/terraferma";
    ASSERT_NE(unit.find(from), std::string::npos);
    unit.replace(unit.find(from), from.size(), TF_BINARY);
    const fs::path dir = fs::temp_directory_path() / ("tf-unit-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "terraferma.service") << unit;
    const std::string cmd = "systemd-analyze verify " + (dir / "terraferma.service").string() + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    const int rc = ::pclose(p);
    fs::remove_all(dir);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "") << out;
}

}  // namespace
