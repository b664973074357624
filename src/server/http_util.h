// Helpers shared by the API front ends (internal to server/).
#pragma once

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "engine/scheduler.h"
#include "server/http/server.h"
#include "server/service.h"

namespace tf::server {

using ojson = nlohmann::ordered_json;

inline std::string dump(const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

inline nlohmann::ordered_json openai_error_json(const ApiError& e) {
    const char* type = e.status == 401   ? "authentication_error"
                       : e.status == 404 ? "not_found_error"
                       : e.status == 503 ? "server_overloaded"
                       : e.status >= 500 ? "server_error"
                                         : "invalid_request_error";
    return {{"error",
             {{"message", e.message},
              {"type", type},
              {"param", e.param.empty() ? ojson(nullptr) : ojson(e.param)},
              {"code", e.status == 404 && e.param == "model" ? ojson("model_not_found") : ojson(nullptr)}}}};
}

inline void send_openai_error(http::Response& res, const ApiError& e) {
    res.status = e.status;
    if (e.status == 503) res.set_header("Retry-After", "1");
    res.set_content(dump(openai_error_json(e)), "application/json");
}

inline void send_ollama_error(http::Response& res, const ApiError& e) {
    res.status = e.status;
    if (e.status == 503) res.set_header("Retry-After", "1");
    res.set_content(dump(ojson{{"error", e.message}}), "application/json");
}

// Limits on a request's JSON shape, checked in one linear pass before the document is built:
// an object keeps its keys in order (a linear search per key), so 100k keys would cost seconds
// of CPU per request and 1M keys minutes.
constexpr size_t kMaxJsonKeys = 10000;  // per object
constexpr size_t kMaxJsonDepth = 128;

class JsonShapeCheck : public nlohmann::json_sax<ojson> {
  public:
    std::string problem;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return open(true); }
    bool key(string_t&) override {
        if (++keys_.back() > kMaxJsonKeys)
            return fail("an object in the request has more than " + std::to_string(kMaxJsonKeys) + " keys");
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(false); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  private:
    bool open(bool) {
        keys_.push_back(0);
        if (keys_.size() > kMaxJsonDepth)
            return fail("the request's JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        return true;
    }
    bool close() {
        keys_.pop_back();
        return true;
    }
    bool fail(std::string why) {
        problem = std::move(why);
        return false;
    }
    std::vector<size_t> keys_;
};

// How many times a non-streamed answer failing a gap keyword is drawn again (GenerateOptions::resample).
constexpr int kResampleDraws = 2;

inline bool parse_body(const http::Request& req, ojson& out, ApiError& err) {
    JsonShapeCheck shape;
    const bool well_formed = ojson::sax_parse(req.body, &shape, nlohmann::detail::input_format_t::json, false);
    if (!shape.problem.empty()) {
        err = {413, shape.problem, ""};
        return false;
    }
    if (!well_formed) {
        err = {400, "the request body is not a JSON object", ""};
        return false;
    }
    out = ojson::parse(req.body, nullptr, false);
    if (out.is_discarded() || !out.is_object()) {
        err = {400, "the request body is not a JSON object", ""};
        return false;
    }
    return true;
}

// A request that names no seed gets a fresh one, written into its body so that it is both used
// and reported (`"seed"` in the response): identical requests at temperature 1 then differ, as
// a chat UI's "regenerate" expects, and each answer can still be reproduced with its seed.
// Below 2^53, so that JavaScript clients read it exactly.
inline uint64_t fresh_seed() {
    static thread_local std::random_device rd;
    return ((static_cast<uint64_t>(rd()) << 32) ^ rd()) & ((uint64_t{1} << 53) - 1);
}
inline void ensure_seed(ojson& body) {  // OpenAI: top-level "seed"
    if (!body.contains("seed") || body["seed"].is_null()) body["seed"] = fresh_seed();
}
inline void ensure_ollama_seed(ojson& body) {  // Ollama: options.seed
    if (!body.contains("options") || !body["options"].is_object()) body["options"] = ojson::object();
    if (!body["options"].contains("seed") || body["options"]["seed"].is_null()) body["options"]["seed"] = fresh_seed();
}

inline int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline std::string iso_now() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Submits and maps scheduler refusals to HTTP statuses.
inline std::shared_ptr<engine::Job> submit(Service& svc, engine::GenerationRequest r, ApiError& err) {
    auto job = svc.scheduler().submit(std::move(r));
    if (!job) {
        const ErrorKind k = job.error().kind;
        err = {k == ErrorKind::Overloaded || k == ErrorKind::Unavailable ? 503 : 400, job.error().message, ""};
        return nullptr;
    }
    return *job;
}

// The next event of a job. While waiting, cancels the job once the deadline passes or
// `client_gone()` says the client left (a cancelled job still ends with a final event).
// The deadline is wall-clock: checked after every event as well as while none comes.
template <typename ClientGone>
engine::JobEvent next_event(engine::Job& job, std::chrono::steady_clock::time_point deadline, ClientGone client_gone) {
    engine::JobEvent e;
    while (!job.next(e, 200)) {
        if (client_gone() || std::chrono::steady_clock::now() > deadline) job.cancel();
    }
    if (!e.done && std::chrono::steady_clock::now() > deadline) job.cancel();
    return e;
}

// A final event of a job the deadline cancelled.
inline bool timed_out(const engine::JobEvent& e, std::chrono::steady_clock::time_point deadline) {
    return e.done && e.reason == engine::StopReason::Cancelled && std::chrono::steady_clock::now() > deadline;
}

inline std::chrono::steady_clock::time_point deadline_after(int seconds) {
    return std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
}

// Waits for a job to finish, gathering its text; cancels it after `timeout_s`.
// With `logprobs`, also their token log-probabilities.
inline engine::JobEvent collect_until(engine::Job& job, std::string& text,
                                      std::chrono::steady_clock::time_point deadline,
                                      std::vector<sampling::TokenLogprob>* logprobs = nullptr) {
    while (true) {
        engine::JobEvent e = next_event(job, deadline, [] { return false; });
        if (e.restart) {  // the answer is being drawn again: what came so far is not it
            text.clear();
            if (logprobs != nullptr) logprobs->clear();
            continue;
        }
        text += e.text;
        if (logprobs != nullptr) logprobs->insert(logprobs->end(), e.logprobs.begin(), e.logprobs.end());
        if (e.done) return e;
    }
}
inline engine::JobEvent collect(engine::Job& job, std::string& text, int timeout_s,
                                std::vector<sampling::TokenLogprob>* logprobs = nullptr) {
    return collect_until(job, text, deadline_after(timeout_s), logprobs);
}

// Generated tokens as both APIs list them: [{token, logprob, bytes, top_logprobs: [{token,
// logprob, bytes}]}] (OpenAI's choices[].logprobs.content, Ollama's "logprobs").
inline ojson logprob_entries(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps) {
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

// The request's "tools" when it has a non-empty list.
inline const ojson* request_tools(const ojson& body) {
    auto it = body.find("tools");
    return it != body.end() && it->is_array() && !it->empty() ? &*it : nullptr;
}

// Why an answer ended, as the APIs say it: "length" when the limit cut it off, else "stop" —
// or "schema_violation" when it does not satisfy what the request asked (response_format, a
// tool's parameters, format); its violations are then listed beside (violations_json). An
// answer is never reported as a plain "stop" unless it was checked and found valid.
inline const char* finish_reason(const engine::JobEvent& e) {
    if (e.reason == engine::StopReason::Length || e.reason == engine::StopReason::Context) return "length";
    // Ended by --timeout or the client: never a plain "stop" (the answer is incomplete).
    if (e.reason == engine::StopReason::Cancelled) return "cancelled";
    return e.violations.empty() ? "stop" : "schema_violation";
}

// [{"path","keyword","message"}] of a final event's violations.
inline ojson violations_json(const engine::JobEvent& e) {
    ojson out = ojson::array();
    for (const auto& v : e.violations)
        out.push_back({{"path", v.instance_path}, {"keyword", v.keyword}, {"message", v.message}});
    return out;
}
// Adds "violations" to a choice (OpenAI) or final object (Ollama) when there are any.
inline void add_violations(ojson& j, const engine::JobEvent& e) {
    if (!e.violations.empty()) j["violations"] = violations_json(e);
}

}  // namespace tf::server
