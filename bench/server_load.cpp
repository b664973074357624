// Load generator for OpenAI-compatible servers (terraferma serve, llama.cpp's llama-server):
// N concurrent clients each stream R chat completions; reports aggregate generated tokens/s
// and time to first token (p50/p99). With --prefix-words W every request starts with the same
// W-word system prompt (--prefix shared: the prefix cache's case) or with one of its own
// (--prefix unique: nothing to reuse), followed by a short question.
//   server_load --port P [--clients 4] [--requests 4] [--max-tokens 64] [--temperature 0] [--prefix-words 0]
//               [--prefix shared|unique] [--model NAME] [--warmup 1] [--json]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Args {
    std::string host = "127.0.0.1", model = "default", prefix = "shared";
    int port = 8080, clients = 4, requests = 4, max_tokens = 64, prefix_words = 0, warmup = 1;
    double temperature = 0;  // 1: what an OpenAI client that sets nothing samples with (no top-k or top-p)
    bool json_out = false;
};

struct Result {
    double ttft_s = 0;
    int tokens = 0;
    bool ok = false;
    std::string error;
};

const char* kWords[] = {"invoice", "payment", "contract", "delivery", "customer", "supplier", "amount", "total", "date",
                        "order",   "item",    "quantity", "price",    "tax",      "address",  "number", "terms", "due"};

std::string prefix_text(int words, int variant) {
    std::string s = "Document " + std::to_string(variant) + ":";
    for (int i = 0; i < words; ++i) {
        s += ' ';
        s += kWords[static_cast<size_t>(i * 7 + variant * 3 + i / 5) % (sizeof kWords / sizeof *kWords)];
    }
    return s;
}

Result one_request(const Args& a, int client, int index) {
    Result r;
    json body = {{"model", a.model}, {"stream", true}, {"max_tokens", a.max_tokens}, {"temperature", a.temperature}, {"seed", 1 + client * 1000 + index},
                 {"ignore_eos", true}, {"stream_options", {{"include_usage", true}}}};
    json messages = json::array();
    if (a.prefix_words > 0) {
        const int variant = a.prefix == "unique" ? 1 + client * 100003 + index * 7 : 0;
        messages.push_back({{"role", "system"}, {"content", prefix_text(a.prefix_words, variant)}});
    }
    messages.push_back({{"role", "user"}, {"content", "Question " + std::to_string(client) + "." + std::to_string(index) + ": what is due?"}});
    body["messages"] = messages;

    httplib::Client c(a.host, a.port);
    c.set_read_timeout(600, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    std::string buffer;
    int chunks = 0, usage_tokens = -1;
    const auto t0 = Clock::now();
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        buffer.append(data, n);
        size_t end;
        while ((end = buffer.find("\n\n")) != std::string::npos) {
            const std::string event = buffer.substr(0, end);
            buffer.erase(0, end + 2);
            if (event.rfind("data: ", 0) != 0 || event == "data: [DONE]") continue;
            const json j = json::parse(event.substr(6), nullptr, false);
            if (j.is_discarded()) continue;
            if (j.contains("usage") && j["usage"].is_object()) usage_tokens = j["usage"].value("completion_tokens", -1);
            if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) continue;
            const json& delta = j["choices"][0].value("delta", json::object());
            if (delta.contains("content") && delta["content"].is_string() && !delta["content"].get<std::string>().empty()) {
                if (chunks++ == 0) r.ttft_s = std::chrono::duration<double>(Clock::now() - t0).count();
            }
        }
        return true;
    };
    auto res = c.send(req);
    if (!res || res->status != 200) {
        r.error = res ? "HTTP " + std::to_string(res->status) + " " + res->body : "no response";
        return r;
    }
    r.tokens = usage_tokens >= 0 ? usage_tokens : chunks;
    r.ok = chunks > 0;
    if (!r.ok) r.error = "no content streamed";
    return r;
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "server_load: %s needs a value\n", k.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (k == "--host") a.host = next();
        else if (k == "--port") a.port = std::stoi(next());
        else if (k == "--clients") a.clients = std::stoi(next());
        else if (k == "--requests") a.requests = std::stoi(next());
        else if (k == "--max-tokens") a.max_tokens = std::stoi(next());
        else if (k == "--temperature") a.temperature = std::stod(next());
        else if (k == "--prefix-words") a.prefix_words = std::stoi(next());
        else if (k == "--prefix") a.prefix = next();
        else if (k == "--model") a.model = next();
        else if (k == "--warmup") a.warmup = std::stoi(next());
        else if (k == "--json") a.json_out = true;
        else {
            std::fprintf(stderr, "usage: server_load --port P [--clients N] [--requests R] [--max-tokens T] [--temperature T] [--prefix-words W] "
                                 "[--prefix shared|unique] [--model NAME] [--warmup K] [--json]\n");
            return k == "--help" ? 0 : 2;
        }
    }
    // Warm-up requests (not counted): the model is loaded and, with a shared prefix, cached.
    for (int i = 0; i < a.warmup; ++i) {
        const Result r = one_request(a, 9999, i);
        if (!r.ok) {
            std::fprintf(stderr, "server_load: warm-up failed: %s\n", r.error.c_str());
            return 1;
        }
    }
    std::vector<Result> results(static_cast<size_t>(a.clients * a.requests));
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < a.clients; ++c) {
        threads.emplace_back([&, c] {
            for (int k = 0; k < a.requests; ++k) results[static_cast<size_t>(c * a.requests + k)] = one_request(a, c, k);
        });
    }
    for (auto& t : threads) t.join();
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> ttft;
    long tokens = 0;
    int failed = 0;
    for (const Result& r : results) {
        if (!r.ok) {
            if (failed++ == 0) std::fprintf(stderr, "server_load: a request failed: %s\n", r.error.c_str());
            continue;
        }
        ttft.push_back(r.ttft_s);
        tokens += r.tokens;
    }
    const double tps = static_cast<double>(tokens) / wall;
    if (a.json_out) {
        std::printf("%s\n", json{{"clients", a.clients}, {"requests", results.size()}, {"failed", failed}, {"tokens", tokens}, {"wall_s", wall},
                                 {"tokens_per_s", tps}, {"ttft_p50_ms", 1e3 * percentile(ttft, 0.5)}, {"ttft_p99_ms", 1e3 * percentile(ttft, 0.99)}}
                                .dump()
                                .c_str());
    } else {
        std::printf("clients %d  requests %zu  failed %d  tokens %ld  wall %.2f s  %.1f tok/s  ttft p50 %.0f ms  p99 %.0f ms\n", a.clients,
                    results.size(), failed, tokens, wall, tps, 1e3 * percentile(ttft, 0.5), 1e3 * percentile(ttft, 0.99));
    }
    return failed == 0 ? 0 : 1;
}
