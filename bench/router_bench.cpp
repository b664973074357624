// The router's own cost per request: everything `serve --routes` adds to a chat request before
// and after the tier answers — the privacy scan of the messages, the tier decisions, the copies
// of the request, the answer's checks (its JSON Schema), the usage block and one audit record —
// with a local tier that answers at once, so nothing else is in the timing. A 4 KB prompt from
// the privacy corpus (about 25 findings), p50/p99 over many requests; once with a route whose
// first tier is local (the common case), once with a redact policy and a remote tier that is
// skipped for an open circuit.
//
//   build/release/bench/router_bench [tests/router/data/privacy_corpus.jsonl] [REQUESTS]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "router/router.h"

namespace {

using ojson = nlohmann::ordered_json;

class InstantTier : public tf::router::LocalTiers {
  public:
    State state(tf::router::Api, const std::string&, const ojson&) override { return {}; }
    tf::router::TierReply stream(tf::router::Api api, const std::string& model, const ojson& request,
                                 const std::function<bool(const ojson&)>&) override {
        return complete(api, model, request);  // the benchmark's requests are not streamed
    }
    tf::router::TierReply complete(tf::router::Api, const std::string&, const ojson&) override {
        return {200, ojson::parse(R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"small",
            "choices":[{"index":0,"message":{"role":"assistant","content":"{\"total\":\"1234.50\",\"currency\":\"EUR\"}"},
            "logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1100,"completion_tokens":14,"total_tokens":1114}})")};
    }
};

}  // namespace

int main(int argc, char** argv) {
    const std::string corpus = argc > 1 ? argv[1] : "tests/router/data/privacy_corpus.jsonl";
    const int requests = argc > 2 ? std::atoi(argv[2]) : 2000;
    std::ifstream in(corpus);
    if (!in) {
        std::fprintf(stderr, "router_bench: cannot read %s\n", corpus.c_str());
        return 1;
    }
    std::vector<std::string> sentences;
    for (std::string line; std::getline(in, line);) sentences.push_back(nlohmann::json::parse(line)["text"]);
    std::string text;
    for (size_t i = 0; text.size() < 4096; ++i) text += sentences[(i * 7919) % sentences.size()] + " ";
    text.resize(4096);
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
    if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();

    char dir[] = "/tmp/tf-router-bench-XXXXXX";
    if (mkdtemp(dir) == nullptr) return 1;
    const std::string toml = std::string("audit_log = \"") + dir + "/audit.jsonl\"\n" +
                             "[endpoints.cloud]\nurl = \"http://127.0.0.1:9/v1\"\nbreaker_failures = 1\n"
                             "breaker_open_s = 86400\nretries = 0\nconnect_timeout_s = 1\n"
                             "[routes.local_first]\ntiers = [\"small\", \"cloud\"]\nprivacy = \"allow\"\n"
                             "[routes.guarded]\ntiers = [\"cloud\", \"small\"]\nprivacy = \"redact\"\n";
    auto config = tf::router::parse_route_config(toml, "bench.toml", [](const std::string& n) { return n == "small"; });
    if (!config) {
        std::fprintf(stderr, "router_bench: %s\n", config.error().message.c_str());
        return 1;
    }
    auto router = tf::router::Router::create(std::move(*config));
    if (!router) {
        std::fprintf(stderr, "router_bench: %s\n", router.error().message.c_str());
        return 1;
    }
    InstantTier tier;
    const ojson request = {
        {"model", "local_first"},
        {"messages", ojson::array({{{"role", "system"}, {"content", "Extract the total of the invoice."}},
                                   {{"role", "user"}, {"content", text}}})},
        {"response_format",
         {{"type", "json_schema"},
          {"json_schema",
           {{"name", "invoice"},
            {"schema",
             {{"type", "object"},
              {"properties", {{"total", {{"type", "string"}}}, {"currency", {{"enum", {"EUR", "USD"}}}}}},
              {"required", {"total", "currency"}}}}}}}}};
    // The dead endpoint's first try opens its circuit; every measured request then skips it.
    (void)(*router)->answer(*(*router)->config().route("guarded"), request, {}, tier);
    for (const char* name : {"local_first", "guarded"}) {
        const auto& route = *(*router)->config().route(name);
        std::vector<double> us;
        for (int i = 0; i < requests; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            auto r = (*router)->answer(route, request, {}, tier);
            us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
            if (r.status != 200) {
                std::fprintf(stderr, "router_bench: status %d: %s\n", r.status, r.body.dump().c_str());
                return 1;
            }
        }
        std::sort(us.begin(), us.end());
        std::printf("route %-11s %zu-byte prompt: router overhead p50 %.3f ms, p99 %.3f ms (%d requests)\n", name,
                    text.size(), us[us.size() / 2] / 1000.0, us[us.size() * 99 / 100] / 1000.0, requests);
    }
    std::string rm = std::string("rm -rf ") + dir;
    return std::system(rm.c_str()) == 0 ? 0 : 1;
}
