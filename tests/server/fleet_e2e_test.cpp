// Serving in a fleet: /ready apart from /health, the graceful drain on SIGTERM (running
// requests finish, new ones get 503 + Retry-After), the prefix-affinity header, and the shipped
// deploy/ files — HAProxy in front of two real servers (affinity by header, a draining server
// left without a failed request), the systemd unit checked by systemd-analyze.
#include <gtest/gtest.h>
#include <httplib.h>
#include <spawn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
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

// HAProxy with the shipped deploy/haproxy.cfg in front of `ports`: the file as it is for two
// servers; for more, with one `server` line added per server, as its comment says.
struct Balancer {
    pid_t pid = -1;
    std::string cfg;
    Balancer(int lb_port, const std::vector<int>& ports) {
        const std::string bind = "127.0.0.1:" + std::to_string(lb_port);
        ::setenv("TF_LB_BIND", bind.c_str(), 1);
        for (size_t i = 0; i < ports.size(); ++i) {
            const std::string addr = "127.0.0.1:" + std::to_string(ports[i]);
            ::setenv(("TF_SERVER_" + std::to_string(i + 1)).c_str(), addr.c_str(), 1);
        }
        cfg = std::string(TF_SOURCE_DIR) + "/deploy/haproxy.cfg";
        if (ports.size() > 2) {
            std::ifstream in(cfg);
            std::stringstream text;
            text << in.rdbuf();
            cfg = "/tmp/tf-haproxy-" + std::to_string(::getpid()) + "-" + std::to_string(lb_port) + ".cfg";
            std::ofstream out(cfg);
            out << text.str();
            for (size_t i = 2; i < ports.size(); ++i)
                out << "    server tf" << i + 1 << " \"${TF_SERVER_" << i + 1 << "}\" check\n";
        }
        std::vector<std::string> args = {"haproxy", "-f", cfg, "-db"};
        std::vector<char*> argv;
        for (auto& s : args) argv.push_back(s.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        if (posix_spawnp(&pid, "haproxy", &fa, nullptr, argv.data(), environ) != 0) pid = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    ~Balancer() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        if (cfg.rfind("/tmp/", 0) == 0) ::unlink(cfg.c_str());
    }
};

TEST(Fleet, drain_finishes_running_requests_and_refuses_new_ones) {
    TF_REQUIRE_REFERENCE();
    // A drain long enough for the long answer on the sanitizers' build (10x slower) too.
    tf::test::ServerProcess srv(
        {"-m", "tiny=" + model_path(), "-c", "8192", "--parallel", "2", "-t", "1", "--drain-timeout", "600"});
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
    const Balancer lb(lb_port, {one.port(), two.port()});
    ASSERT_GT(lb.pid, 0);

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

// Three servers behind HAProxy under load from four clients, every request carrying one of four
// ~1,000-token system prompts and its prefix header: the prefix cache serves the system prompt
// of >= 90 % of them. Then, the load going on, one server is killed (SIGKILL) and another
// drained (SIGTERM): no request fails but ones that were running when the kill struck.
TEST(Fleet, three_servers_under_load_keep_prefixes_cached_and_lose_only_requests_running_on_a_killed_one) {
    TF_REQUIRE_REFERENCE();
    if (std::system("command -v haproxy >/dev/null 2>&1") != 0) GTEST_SKIP() << "no haproxy (scripts/setup.sh)";
    std::vector<std::unique_ptr<tf::test::ServerProcess>> servers;
    std::vector<int> ports;
    for (int i = 0; i < 3; ++i) {
        servers.push_back(std::make_unique<tf::test::ServerProcess>(
            std::vector<std::string>{"-m", "tiny=" + model_path(), "-t", "1", "--parallel", "2", "-c", "4096"}));
        ASSERT_GT(servers.back()->port(), 0) << servers.back()->stderr_text();
        ports.push_back(servers.back()->port());
    }
    const int lb_port = tf::test::free_port();
    const Balancer lb(lb_port, ports);
    ASSERT_GT(lb.pid, 0);
    // ~1,100 tokens of this vocabulary; the sanitizers' build (10x slower) checks the same
    // path with shorter prompts.
#if defined(__SANITIZE_ADDRESS__)
    constexpr int kRules = 5, kSystemTokens = 250;
#else
    constexpr int kRules = 18, kSystemTokens = 1000;
#endif
    std::vector<std::string> systems;
    for (int k = 0; k < 4; ++k) {
        std::string s = "You are extraction assistant " + std::to_string(k) + ". ";
        for (int r = 0; r < kRules; ++r)
            s += "Rule " + std::to_string(r) + " for team " + std::to_string(k) +
                 ": write amounts with two decimals and dates as year, month, day. ";
        systems.push_back(s);
    }
    auto post = [&](int k, const std::string& user, const std::string& prefix) {
        httplib::Client c("127.0.0.1", lb_port);
        c.set_read_timeout(120, 0);
        httplib::Headers h;
        if (!prefix.empty()) h.emplace("X-Terraferma-Prefix", prefix);
        return c.Post("/v1/chat/completions", h, chat(systems[k], user, 4).dump(), "application/json");
    };
    bool up = false;
    for (int i = 0; i < 300 && !up; ++i) {
        auto r = post(0, "hi", "");
        up = r && r->status == 200;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(up) << "HAProxy never answered";
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // every server checked
    // Each system prompt's prefix name, from a first answer; then one request each with it, so
    // that the server the hash picks holds the prompt.
    std::vector<std::string> prefixes;
    int system_tokens = 0;
    for (int k = 0; k < 4; ++k) {
        auto r = post(k, "warm", "");
        ASSERT_TRUE(r && r->status == 200);
        prefixes.push_back(r->get_header_value("x-terraferma-prefix"));
        ASSERT_EQ(prefixes.back().size(), 16u);
        system_tokens = json::parse(r->body)["usage"]["prompt_tokens"].get<int>() - 40;
        ASSERT_TRUE(post(k, "warm again", prefixes[k]));
    }
    ASSERT_GE(system_tokens, kSystemTokens);

    struct Outcome {
        int status = 0;  // 0: no answer
        int64_t start_ms = 0, end_ms = 0;
        int cached = 0;
    };
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    auto ms = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count(); };
    std::mutex mu;
    std::vector<Outcome> outcomes;
    std::atomic<bool> stop{false};
    auto client = [&](int t, int requests) {
        for (int i = 0; (requests < 0 ? !stop.load() : i < requests); ++i) {
            const int k = (t + i) % 4;
            Outcome o;
            o.start_ms = ms();
            auto r = post(k, "document " + std::to_string(t) + "-" + std::to_string(i), prefixes[k]);
            o.end_ms = ms();
            if (r) {
                o.status = r->status;
                const json j = json::parse(r->body, nullptr, false);
                if (r->status == 200) o.cached = j["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>();
            }
            std::lock_guard<std::mutex> lock(mu);
            outcomes.push_back(o);
        }
    };
    // Steady load: the prefix cache hit rate.
    {
        std::vector<std::thread> clients;
        for (int t = 0; t < 4; ++t) clients.emplace_back(client, t, 15);
        for (auto& c : clients) c.join();
    }
    int hits = 0;
    for (const Outcome& o : outcomes) {
        ASSERT_EQ(o.status, 200);
        if (o.cached >= system_tokens) ++hits;
    }
    const double hit_rate = static_cast<double>(hits) / static_cast<double>(outcomes.size());
    EXPECT_GE(hit_rate, 0.9) << hits << " of " << outcomes.size();

    // The same load while one server is killed and another drained.
    outcomes.clear();
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) clients.emplace_back(client, t, -1);
    // Steps by the work done, not the clock: a loaded machine stretches every request.
    auto finished_after = [&](int64_t since) {
        std::lock_guard<std::mutex> lock(mu);
        return std::count_if(outcomes.begin(), outcomes.end(), [&](const Outcome& o) { return o.start_ms > since; });
    };
    auto wait_for_outcomes = [&](int64_t since, long n) {
        for (int i = 0; i < 6000 && finished_after(since) < n; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return finished_after(since) >= n;
    };
    EXPECT_TRUE(wait_for_outcomes(-1, 4));
    const int64_t kill_ms = ms();
    servers[0]->signal(SIGKILL);
    EXPECT_TRUE(wait_for_outcomes(kill_ms, 4));
    const int64_t drain_ms = ms();
    servers[1]->signal(SIGTERM);
    EXPECT_TRUE(wait_for_outcomes(drain_ms, 8));
    stop = true;
    for (auto& c : clients) c.join();
    EXPECT_EQ(servers[1]->stop(SIGTERM), 0) << servers[1]->stderr_text();
    int failed = 0, after_drain = 0;
    for (const Outcome& o : outcomes) {
        if (o.start_ms > drain_ms && o.status == 200) ++after_drain;
        if (o.status == 200) continue;
        ++failed;
        // Only a request that was running on the killed server when it died may fail.
        EXPECT_LE(o.start_ms, kill_ms) << "a request started after the kill failed with " << o.status;
        EXPECT_GE(o.end_ms, kill_ms);
    }
    EXPECT_LE(failed, 2);       // the killed server's two slots
    EXPECT_GE(after_drain, 8);  // answered by the one server left
    std::printf(
        "[fleet] 3 servers, 4 clients, %d-token system prompts: prefix cache hit rate %.1f %% (%d of %zu "
        "requests); with one server killed and one drained: %zu requests, %d failed (running on the killed "
        "one)\n",
        system_tokens, 100.0 * hit_rate, hits, static_cast<size_t>(60), outcomes.size(), failed);
}

// The shipped units, with this build's binary in ExecStart (and the worker's environment file
// in a temporary folder), pass systemd-analyze verify without a word.
TEST(Fleet, the_systemd_units_verify) {
    if (std::system("command -v systemd-analyze >/dev/null 2>&1") != 0) GTEST_SKIP() << "no systemd-analyze";
    const fs::path dir = fs::temp_directory_path() / ("tf-unit-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "worker.env") << "TF_STORE=postgresql://tf@127.0.0.1/jobs\n";
    for (const std::string name : {"terraferma.service", "terraferma-worker.service"}) {
        std::ifstream in(std::string(TF_SOURCE_DIR) + "/deploy/" + name);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string unit = ss.str();
        const std::string from = "/usr/local/bin/terraferma";
        ASSERT_NE(unit.find(from), std::string::npos) << name;
        unit.replace(unit.find(from), from.size(), TF_BINARY);
        const std::string env = "/etc/terraferma/worker.env";
        if (const size_t at = unit.find("EnvironmentFile=" + env); at != std::string::npos)
            unit.replace(at + 16, env.size(), (dir / "worker.env").string());
        std::ofstream(dir / name) << unit;
        const std::string cmd = "systemd-analyze verify " + (dir / name).string() + " 2>&1";
        FILE* p = ::popen(cmd.c_str(), "r");
        ASSERT_NE(p, nullptr);
        std::string out;
        char buf[512];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        const int rc = ::pclose(p);
        EXPECT_EQ(rc, 0) << name << ": " << out;
        EXPECT_EQ(out, "") << name << ": " << out;
    }
    fs::remove_all(dir);
}

}  // namespace
