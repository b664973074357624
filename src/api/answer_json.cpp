#include "api/answer_json.h"

#include <chrono>
#include <ctime>

namespace tf::api {

std::string dump(const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string iso_now() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char* finish_reason(const engine::JobEvent& e) {
    if (e.reason == engine::StopReason::Length || e.reason == engine::StopReason::Context) return "length";
    if (e.reason == engine::StopReason::Cancelled) return "cancelled";
    return e.violations.empty() ? "stop" : "schema_violation";
}

void add_violations(ojson& j, const engine::JobEvent& e) {
    if (e.violations.empty()) return;
    ojson out = ojson::array();
    for (const auto& v : e.violations)
        out.push_back({{"path", v.instance_path}, {"keyword", v.keyword}, {"message", v.message}});
    j["violations"] = std::move(out);
}

ojson logprob_entries(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps) {
    auto entry = [&](int32_t id, float logprob) {
        const std::string piece = t.token_to_piece(id, true);
        ojson bytes = ojson::array();
        for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
        return ojson{{"token", piece}, {"logprob", logprob}, {"bytes", std::move(bytes)}};
    };
    ojson out = ojson::array();
    for (const auto& lp : lps) {
        ojson e = entry(lp.id, lp.logprob);
        ojson top = ojson::array();
        for (const auto& [id, v] : lp.top) top.push_back(entry(id, v));
        e["top_logprobs"] = std::move(top);
        out.push_back(std::move(e));
    }
    return out;
}

const ojson* request_tools(const ojson& body) {
    auto it = body.find("tools");
    return it != body.end() && it->is_array() && !it->empty() ? &*it : nullptr;
}

}  // namespace tf::api
