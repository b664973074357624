// /v1/chat/completions, /v1/completions, /v1/models — the shapes the official OpenAI SDKs
// send and parse, streamed as server-sent events when asked.
#include <atomic>
#include <cstring>
#include <thread>

#include "server/api.h"
#include "server/http_util.h"
#include "server/openai_handlers.h"
#include "server/params.h"

namespace tf::server {

namespace {

// The request's tools when it has any and tool_choice is not "none".
const ojson* active_tools(const ojson& body) {
    if (body.contains("tool_choice") && body["tool_choice"] == "none") return nullptr;
    return request_tools(body);
}

// OpenAI's tool_calls array for parsed calls.
ojson openai_tool_calls(const std::vector<engine::ToolCall>& calls, const std::string& id_base, bool with_index) {
    ojson out = ojson::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        ojson c = {{"id", id_base + "-" + std::to_string(i)},
                   {"type", "function"},
                   {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments.dump()}}}};
        if (with_index) c["index"] = i;
        out.push_back(std::move(c));
    }
    return out;
}

std::string new_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s-%016llx", prefix,
                  static_cast<unsigned long long>((static_cast<uint64_t>(unix_now()) << 20) ^ ++counter));
    return buf;
}

// Chat: "logprobs" true/false and "top_logprobs" 0..20 (only with logprobs); completions:
// "logprobs" null or 0..20 alternatives. Sets options.logprobs (-1: none).
bool logprob_options(const ojson& body, bool chat, engine::GenerateOptions& o, ApiError& err) {
    o.logprobs = -1;
    auto lp = body.find("logprobs");
    const bool has_lp = lp != body.end() && !lp->is_null();
    if (chat) {
        if (has_lp && !lp->is_boolean()) {
            err = {400, "'logprobs' must be a boolean", "logprobs"};
            return false;
        }
        const bool on = has_lp && lp->get<bool>();
        int top = 0;
        if (auto t = body.find("top_logprobs"); t != body.end() && !t->is_null()) {
            if (!t->is_number_integer() || t->get<int64_t>() < 0 || t->get<int64_t>() > 20) {
                err = {400, "'top_logprobs' must be an integer from 0 to 20", "top_logprobs"};
                return false;
            }
            if (!on) {
                err = {400, "'top_logprobs' needs 'logprobs': true", "top_logprobs"};
                return false;
            }
            top = t->get<int>();
        }
        if (on) o.logprobs = top;
        return true;
    }
    if (has_lp) {
        if (!lp->is_number_integer() || lp->get<int64_t>() < 0 || lp->get<int64_t>() > 20) {
            err = {400, "'logprobs' must be an integer from 0 to 20", "logprobs"};
            return false;
        }
        o.logprobs = lp->get<int>();
    }
    return true;
}

bool wants_usage(const ojson& body) {
    return body.contains("stream_options") && body["stream_options"].is_object() &&
           body["stream_options"].value("include_usage", false);
}
bool wants_chat_logprobs(const ojson& body) {
    return body.value("logprobs", ojson(false)) == true;
}
bool wants_completion_logprobs(const ojson& body) {
    return body.contains("logprobs") && !body["logprobs"].is_null();
}

// A chat.completion.chunk event around `choices`.
ojson chat_chunk(const std::string& id, int64_t created, const std::string& model, ojson choices) {
    return ojson{{"id", id},       {"object", "chat.completion.chunk"},  {"created", created},
                 {"model", model}, {"system_fingerprint", "terraferma"}, {"choices", std::move(choices)}};
}
// The first delta of choice `index`: its role.
ojson role_delta(int index) {
    return ojson::array({{{"index", index},
                          {"delta", {{"role", "assistant"}, {"content", ""}}},
                          {"logprobs", nullptr},
                          {"finish_reason", nullptr}}});
}
// A content delta of choice `index`, or its finish when `final` (with the final event's text, if any).
ojson content_delta(int index, const std::string& text, const engine::JobEvent* final, ojson logprobs) {
    ojson delta = final && text.empty() ? ojson::object() : ojson{{"content", text}};
    ojson choice = {{"index", index},
                    {"delta", std::move(delta)},
                    {"logprobs", std::move(logprobs)},
                    {"finish_reason", final ? ojson(finish_reason(*final)) : ojson(nullptr)}};
    if (final) add_violations(choice, *final);
    return ojson::array({std::move(choice)});
}

// choices[].logprobs of a chat completion (or of one chunk).
ojson chat_logprobs(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps) {
    return {{"content", logprob_entries(t, lps)}, {"refusal", nullptr}};
}

// choices[].logprobs of a legacy completion; `offset` is the text length before these tokens,
// advanced past them.
ojson completion_logprobs(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps, size_t& offset) {
    ojson tokens = ojson::array(), values = ojson::array(), tops = ojson::array(), offsets = ojson::array();
    for (const auto& lp : lps) {
        const std::string piece = t.token_to_piece(lp.id, true);
        tokens.push_back(piece);
        values.push_back(lp.logprob);
        ojson top = ojson::object();
        for (const auto& [id, v] : lp.top) top[t.token_to_piece(id, true)] = v;
        tops.push_back(std::move(top));
        offsets.push_back(offset);
        offset += piece.size();
    }
    return {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

// Builds the request common to both endpoints; `prompt` must be filled by the caller.
bool prepare(Service& svc, const ojson& body, bool chat, engine::GenerationRequest& r, ApiError& err) {
    if (!svc.check_generative(err)) return false;
    // A harmony model (gpt-oss) answers in channels marked by control tokens: keep their text so
    // that the answer, its reasoning and its tool calls can be told apart.
    r.options.render_special = chat && svc.tool_syntax() == engine::ToolSyntax::Harmony;
    if (!openai_options(body, svc.model().hp.n_vocab, r.options, err)) return false;
    // An answer that fails a gap keyword is drawn again (twice at most) unless it is streamed:
    // a streamed answer cannot be taken back, it is reported instead.
    r.options.resample = body.value("stream", ojson(false)) == true ? 0 : kResampleDraws;
    if (!logprob_options(body, chat, r.options, err)) return false;
    if (const ojson* tools = active_tools(body)) {
        const ojson choice = body.value("tool_choice", ojson("auto"));
        std::string only;
        bool forced = false;
        if (choice.is_string()) {
            const std::string c = choice.get<std::string>();
            if (c == "required")
                forced = true;
            else if (c != "auto" && c != "none") {
                err = {400, "tool_choice must be auto, none, required or a function", "tool_choice"};
                return false;
            }
        } else if (choice.is_object() && choice.contains("function") && choice["function"].is_object() &&
                   choice["function"].contains("name")) {
            forced = true;
            only = choice["function"]["name"].get<std::string>();
        } else {
            err = {400, "tool_choice must be auto, none, required or a function", "tool_choice"};
            return false;
        }
        const auto format = body.find("response_format");
        const bool wants_format =
            format != body.end() && format->is_object() && format->value("type", "text") != "text";
        if (forced || (choice == "auto" && !wants_format)) {
            // Forced: the answer must be calls, in the grammar of this model's tool-call syntax.
            // Auto: free text, but a call the model starts (its syntax's marker) must be well formed.
            // Either way each call's arguments are checked against its tool's parameters.
            engine::ToolChoice tc;
            tc.syntax = svc.tool_syntax();
            tc.forced = forced;
            tc.parallel = body.value("parallel_tool_calls", true) && only.empty();
            tc.only = only;
            r.contract = svc.tools_contract(*tools, tc, err);
            if (!r.contract) return false;
        }
    }
    if (auto it = body.find("response_format");
        it != body.end() && !it->is_null() && !(r.contract && it->is_object() && it->value("type", "") == "text")) {
        if (r.contract) {
            err = {400, "response_format cannot be combined with a forced tool_choice", "response_format"};
            return false;
        }
        const std::string type = it->is_object() ? it->value("type", "") : "";
        if (type == "json_object") {
            r.contract = svc.schema_contract(ojson{{"type", "object"}}, false, err);
            if (!r.contract) return false;
        } else if (type == "json_schema") {
            const ojson* schema = nullptr;
            if (it->contains("json_schema") && (*it)["json_schema"].is_object() &&
                (*it)["json_schema"].contains("schema")) {
                schema = &(*it)["json_schema"]["schema"];
            }
            if (schema == nullptr) {
                err = {400, "response_format json_schema needs json_schema.schema", "response_format"};
                return false;
            }
            // strict: true (OpenAI's structured outputs) accepts only what the grammar guarantees.
            const bool strict = (*it)["json_schema"].value("strict", ojson(false)) == true;
            r.contract = svc.schema_contract(*schema, strict, err);
            if (!r.contract) return false;
        } else if (type != "text") {
            err = {400, "response_format.type must be text, json_object or json_schema", "response_format"};
            return false;
        }
    }
    return true;
}

ojson usage_json(const engine::Timings& t, size_t prompt_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", t.n_generated},
            {"total_tokens", prompt_tokens + static_cast<size_t>(t.n_generated)},
            {"prompt_tokens_details", {{"cached_tokens", t.n_reused}}}};
}

// "stream" as a boolean (absent: false); a wrong type is the client's error, named.
bool stream_flag(const ojson& body, bool& stream, ApiError& err) {
    stream = false;
    auto it = body.find("stream");
    if (it == body.end() || it->is_null()) return true;
    if (!it->is_boolean()) {
        err = {400, "'stream' must be a boolean", "stream"};
        return false;
    }
    stream = it->get<bool>();
    return true;
}

// "n": how many choices to generate (1..16); 0 with `err` set when invalid.
int choice_count(const ojson& body, ApiError& err) {
    auto it = body.find("n");
    if (it == body.end() || it->is_null()) return 1;
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 16) {
        err = {400, "'n' must be an integer from 1 to 16", "n"};
        return 0;
    }
    return it->get<int>();
}

// Renders and queues a chat request; null with `err` set when it cannot run. Choice `index`
// samples with seed + index, so every choice is reproducible on its own.
std::shared_ptr<engine::Job> start_chat(Service& svc, const ojson& body, ApiError& err, size_t& n_prompt,
                                        int index = 0) {
    engine::GenerationRequest r;
    if (!svc.render(body.value("messages", ojson()), r.prompt, err, request_tools(body)) ||
        !prepare(svc, body, true, r, err))
        return nullptr;
    r.options.sampling.seed += static_cast<uint64_t>(index);
    n_prompt = r.prompt.size();
    return submit(svc, std::move(r), err);
}

std::shared_ptr<engine::Job> start_completion(Service& svc, const ojson& body, ApiError& err, size_t& n_prompt,
                                              int index = 0) {
    if (!body.contains("prompt") || !body["prompt"].is_string()) {
        err = {400, "'prompt' must be a string", "prompt"};
        return nullptr;
    }
    engine::GenerationRequest r;
    r.prompt = svc.tokenizer().encode(body["prompt"].get<std::string>(), true, false);
    if (!prepare(svc, body, false, r, err)) return nullptr;
    r.options.sampling.seed += static_cast<uint64_t>(index);
    if (!body.contains("max_tokens")) r.options.max_tokens = 16;  // OpenAI's default for completions
    n_prompt = r.prompt.size();
    return submit(svc, std::move(r), err);
}

ojson completion_json(const std::string& id, int64_t created, const std::string& model, const std::string& text,
                      const engine::JobEvent* final, ojson logprobs = nullptr) {
    ojson choice = {{"text", text},
                    {"index", 0},
                    {"logprobs", std::move(logprobs)},
                    {"finish_reason", final ? ojson(finish_reason(*final)) : ojson(nullptr)}};
    if (final) add_violations(choice, *final);
    return ojson{{"id", id},
                 {"object", "text_completion"},
                 {"created", created},
                 {"model", model},
                 {"choices", ojson::array({std::move(choice)})}};
}

std::string base64(const float* v, size_t n) {
    static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes(n * 4, '\0');
    for (size_t i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, v + i, 4);
        for (int b = 0; b < 4; ++b)
            bytes[i * 4 + static_cast<size_t>(b)] = static_cast<char>((u >> (8 * b)) & 0xFF);  // little-endian
    }
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const uint32_t a = static_cast<uint8_t>(bytes[i]);
        const uint32_t b = i + 1 < bytes.size() ? static_cast<uint8_t>(bytes[i + 1]) : 0;
        const uint32_t c = i + 2 < bytes.size() ? static_cast<uint8_t>(bytes[i + 2]) : 0;
        const uint32_t w = (a << 16) | (b << 8) | c;
        out += kAlphabet[(w >> 18) & 63];
        out += kAlphabet[(w >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(w >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[w & 63] : '=';
    }
    return out;
}

ApiResult failure(const ApiError& e) {
    return {e.status, openai_error_json(e)};
}

using StartFn = std::shared_ptr<engine::Job> (*)(Service&, const ojson&, ApiError&, size_t&, int);

// Queues the request's n choices (all run together in the scheduler); empty with `err` set when
// any cannot start (those already queued are cancelled).
std::vector<std::shared_ptr<engine::Job>> start_choices(StartFn start, Service& svc, const ojson& body, ApiError& err,
                                                        size_t& n_prompt) {
    const int n = choice_count(body, err);
    std::vector<std::shared_ptr<engine::Job>> jobs;
    for (int i = 0; i < n; ++i) {
        auto job = start(svc, body, err, n_prompt, i);
        if (!job) {
            for (auto& j : jobs) j->cancel();
            return {};
        }
        jobs.push_back(std::move(job));
    }
    return jobs;
}

ojson usage_of(const std::vector<engine::JobEvent>& finals, size_t prompt_tokens) {
    engine::Timings t = finals.empty() ? engine::Timings{} : finals[0].timings;
    for (size_t i = 1; i < finals.size(); ++i) t.n_generated += finals[i].timings.n_generated;
    return usage_json(t, prompt_tokens);
}

// Streams n > 1 choices as server-sent events, each chunk naming its choice by index;
// `chunk(index, text, final, logprobs)` builds each event's JSON.
void stream_choices(
    http::Response& res, std::vector<std::shared_ptr<engine::Job>> jobs, int timeout_s,
    std::function<ojson(int, const std::string&, const engine::JobEvent*, const std::vector<sampling::TokenLogprob>&)>
        chunk,
    bool include_usage, std::function<ojson(const std::vector<engine::JobEvent>&)> usage_chunk,
    std::vector<ojson> first) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [=](size_t, http::DataSink& sink) {
        auto send = [&](const ojson& j) {
            const std::string line = "data: " + dump(j) + "\n\n";
            return sink.write(line.data(), line.size());
        };
        auto cancel_all = [&] {
            for (auto& j : jobs) j->cancel();
        };
        for (const ojson& f : first) {
            if (!send(f)) {
                cancel_all();
                return false;
            }
        }
        const auto deadline = deadline_after(timeout_s);
        std::vector<engine::JobEvent> finals(jobs.size());
        std::vector<bool> done(jobs.size(), false);
        size_t n_done = 0;
        while (n_done < jobs.size()) {
            bool any = false;
            for (size_t i = 0; i < jobs.size(); ++i) {
                engine::JobEvent e;
                if (done[i] || !jobs[i]->next(e, 0)) continue;
                any = true;
                if (!e.error.empty()) {
                    send(ojson{{"error", {{"message", e.error}, {"type", "server_error"}}}});
                    cancel_all();
                    n_done = jobs.size();
                    break;
                }
                if ((!e.text.empty() || !e.logprobs.empty()) &&
                    !send(chunk(static_cast<int>(i), e.text, nullptr, e.logprobs))) {
                    cancel_all();  // the client went away: free the slots
                    return false;
                }
                if (e.done) {
                    send(chunk(static_cast<int>(i), "", &e, {}));
                    finals[i] = std::move(e);
                    done[i] = true;
                    ++n_done;
                }
            }
            if (!any && n_done < jobs.size()) {
                if (!sink.is_writable() || std::chrono::steady_clock::now() > deadline) cancel_all();
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        }
        if (include_usage) send(usage_chunk(finals));
        const std::string done_line = "data: [DONE]\n\n";
        sink.write(done_line.data(), done_line.size());
        sink.done();
        return true;
    });
}

void send(http::Response& res, const ApiResult& r) {
    res.status = r.status;
    if (r.status == 503) res.set_header("Retry-After", "1");
    res.set_content(dump(r.body), "application/json");
}

// Streams a job as server-sent events; `chunk(text, finish)` builds each event's JSON.
// With `finalize`, text is held back and the chunks it returns are sent at the end instead
// (tool calls are known only once the answer is complete).
void stream_sse(
    http::Response& res, std::shared_ptr<engine::Job> job, int timeout_s,
    std::function<ojson(const std::string& text, const engine::JobEvent* final,
                        const std::vector<sampling::TokenLogprob>& lps)>
        chunk,
    bool include_usage, std::function<ojson(const engine::JobEvent&)> usage_chunk, ojson first,
    std::function<std::vector<ojson>(const std::string& text, const engine::JobEvent& final)> finalize = nullptr) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [=](size_t, http::DataSink& sink) {
        auto send = [&](const ojson& j) {
            const std::string line = "data: " + dump(j) + "\n\n";
            return sink.write(line.data(), line.size());
        };
        if (!first.is_null() && !send(first)) {
            job->cancel();
            return false;
        }
        const auto deadline = deadline_after(timeout_s);
        std::string held;
        while (true) {
            const engine::JobEvent e = next_event(*job, deadline, [&] { return !sink.is_writable(); });
            if (!e.error.empty()) {
                send(ojson{{"error", {{"message", e.error}, {"type", "server_error"}}}});
                break;
            }
            if (finalize) {
                held += e.text;
            } else if ((!e.text.empty() || !e.logprobs.empty()) && !send(chunk(e.text, nullptr, e.logprobs))) {
                job->cancel();  // the client went away: free its slot
                return false;
            }
            if (e.done) {
                if (finalize) {
                    for (const ojson& c : finalize(held, e)) send(c);
                } else {
                    send(chunk("", &e, {}));
                }
                if (include_usage) send(usage_chunk(e));
                break;
            }
        }
        const std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
        sink.done();
        return true;
    });
}

}  // namespace

ojson openai_error_body(const ApiError& e) {
    return openai_error_json(e);
}

ApiResult openai_chat_completion(Service& svc, const ojson& body, int timeout_s, const OnAbandon& abandon) {
    ApiError err;
    size_t n_prompt = 0;
    auto jobs = start_choices(start_chat, svc, body, err, n_prompt);
    if (jobs.empty()) return failure(err);
    if (abandon)
        abandon([jobs] {
            for (auto& j : jobs) j->cancel();
        });
    const std::string id = new_id("chatcmpl");
    const int64_t created = unix_now();
    const bool want_logprobs = wants_chat_logprobs(body);
    const auto deadline = deadline_after(timeout_s);
    ojson choices = ojson::array();
    std::vector<engine::JobEvent> finals;
    for (size_t i = 0; i < jobs.size(); ++i) {
        std::string text;
        std::vector<sampling::TokenLogprob> lps;
        engine::JobEvent e = collect_until(*jobs[i], text, deadline, &lps);
        if (!e.error.empty()) {
            for (auto& j : jobs) j->cancel();
            return failure({500, e.error, ""});
        }
        if (timed_out(e, deadline)) {
            for (auto& j : jobs) j->cancel();
            return failure(
                {504,
                 "the request ran past the server's --timeout of " + std::to_string(timeout_s) + " s and was cancelled",
                 ""});
        }
        ojson message = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
        std::string finish = finish_reason(e);
        const bool harmony = svc.tool_syntax() == engine::ToolSyntax::Harmony;
        if (active_tools(body) != nullptr || harmony) {
            const engine::ParsedAnswer a = engine::parse_tool_calls(svc.tool_syntax(), text);
            if (harmony) {
                message["content"] = a.content;
                if (!a.reasoning.empty()) message["reasoning_content"] = a.reasoning;
            }
            if (!a.calls.empty()) {
                message["content"] = a.content.empty() ? ojson(nullptr) : ojson(a.content);
                message["tool_calls"] =
                    openai_tool_calls(a.calls, "call-" + id + (i ? "-" + std::to_string(i) : ""), false);
                if (e.violations.empty()) finish = "tool_calls";
            }
        }
        ojson choice = {{"index", i},
                        {"message", message},
                        {"logprobs", want_logprobs ? chat_logprobs(svc.tokenizer(), lps) : ojson(nullptr)},
                        {"finish_reason", finish}};
        add_violations(choice, e);
        choices.push_back(std::move(choice));
        finals.push_back(std::move(e));
    }
    ojson out = {{"id", id},
                 {"object", "chat.completion"},
                 {"created", created},
                 {"model", svc.model_name()},
                 {"choices", std::move(choices)},
                 {"usage", usage_of(finals, n_prompt)},
                 {"system_fingerprint", "terraferma"}};
    if (body.contains("seed")) out["seed"] = body["seed"];  // choice i used seed + i
    return {200, out};
}

ApiResult openai_completion(Service& svc, const ojson& body, int timeout_s, const OnAbandon& abandon) {
    ApiError err;
    size_t n_prompt = 0;
    auto jobs = start_choices(start_completion, svc, body, err, n_prompt);
    if (jobs.empty()) return failure(err);
    if (abandon)
        abandon([jobs] {
            for (auto& j : jobs) j->cancel();
        });
    const bool want_logprobs = wants_completion_logprobs(body);
    const auto deadline = deadline_after(timeout_s);
    ojson j = completion_json(new_id("cmpl"), unix_now(), svc.model_name(), "", nullptr);
    j["choices"] = ojson::array();
    std::vector<engine::JobEvent> finals;
    for (size_t i = 0; i < jobs.size(); ++i) {
        std::string text;
        std::vector<sampling::TokenLogprob> lps;
        engine::JobEvent e = collect_until(*jobs[i], text, deadline, &lps);
        size_t offset = 0;
        if (!e.error.empty()) {
            for (auto& job : jobs) job->cancel();
            return failure({500, e.error, ""});
        }
        if (timed_out(e, deadline)) {
            for (auto& job : jobs) job->cancel();
            return failure(
                {504,
                 "the request ran past the server's --timeout of " + std::to_string(timeout_s) + " s and was cancelled",
                 ""});
        }
        ojson choice = {
            {"text", text},
            {"index", i},
            {"logprobs", want_logprobs ? completion_logprobs(svc.tokenizer(), lps, offset) : ojson(nullptr)},
            {"finish_reason", finish_reason(e)}};
        add_violations(choice, e);
        j["choices"].push_back(std::move(choice));
        finals.push_back(std::move(e));
    }
    j["usage"] = usage_of(finals, n_prompt);
    if (body.contains("seed")) j["seed"] = body["seed"];
    return {200, j};
}

// input: a string, an array of strings, an array of token ids or an array of such arrays;
// encoding_format float (default) or base64 (little-endian float32, what the official SDKs ask for).
ApiResult openai_embeddings(Service& svc, const ojson& body) {
    auto it = body.find("input");
    if (it == body.end()) return failure({400, "'input' is required", "input"});
    std::vector<std::vector<int32_t>> inputs;
    auto ids = [&](const ojson& a, std::vector<int32_t>& out) {
        for (const auto& x : a) {
            if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
                x.get<int64_t>() >= static_cast<int64_t>(svc.model().hp.n_vocab))
                return false;
            out.push_back(x.get<int32_t>());
        }
        return true;
    };
    if (it->is_string()) {
        inputs.push_back(svc.tokenizer().encode(it->get<std::string>(), true, false));
    } else if (it->is_array() && !it->empty() && (*it)[0].is_number()) {
        inputs.emplace_back();
        if (!ids(*it, inputs.back()))
            return failure({400, "'input' token ids must be integers in the vocabulary", "input"});
    } else if (it->is_array() && !it->empty()) {
        for (const auto& x : *it) {
            if (x.is_string()) {
                inputs.push_back(svc.tokenizer().encode(x.get<std::string>(), true, false));
            } else if (x.is_array()) {
                inputs.emplace_back();
                if (!ids(x, inputs.back()))
                    return failure({400, "'input' token ids must be integers in the vocabulary", "input"});
            } else {
                return failure({400, "'input' must be a string, an array of strings, or token ids", "input"});
            }
        }
    } else {
        return failure({400, "'input' must be a non-empty string, array of strings, or token ids", "input"});
    }
    if (inputs.size() > 2048) return failure({400, "'input' holds more than 2048 items", "input"});
    std::string format = "float";
    if (auto f = body.find("encoding_format"); f != body.end() && !f->is_null()) {
        if (!f->is_string() || (*f != "float" && *f != "base64"))
            return failure({400, "'encoding_format' must be float or base64", "encoding_format"});
        format = f->get<std::string>();
    }
    const int64_t E = svc.model().hp.n_embd;
    if (auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
        if (!d->is_number_integer() || d->get<int64_t>() != E) {
            return failure(
                {400, "'dimensions' must be this model's embedding size, " + std::to_string(E), "dimensions"});
        }
    }
    ojson data = ojson::array();
    size_t tokens = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].empty()) return failure({400, "input " + std::to_string(i) + " is empty", "input"});
        if (static_cast<int64_t>(inputs[i].size()) > svc.embedding_max_tokens()) {
            return failure({400,
                            "input " + std::to_string(i) + " has " + std::to_string(inputs[i].size()) +
                                " tokens; at most " + std::to_string(svc.embedding_max_tokens()) +
                                " fit the context (--ctx-size)",
                            "input"});
        }
        tokens += inputs[i].size();
    }
    auto vectors = svc.embed_many(inputs);
    if (!vectors) return failure({500, vectors.error().message, ""});
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto& v = (*vectors)[i];
        ojson e = {{"object", "embedding"}, {"index", i}};
        e["embedding"] = format == "base64" ? ojson(base64(v.data(), v.size())) : ojson(v);
        data.push_back(std::move(e));
    }
    return {200, ojson{{"object", "list"},
                       {"data", data},
                       {"model", svc.model_name()},
                       {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}};
}

// The rerank request llama-server, Jina and Cohere share: a query, documents (strings, or
// objects with "text"), optional top_n and return_documents; results sorted by relevance, each
// with its index into the request's documents and the raw score of the reranker's head.
ApiResult openai_rerank(Service& svc, const ojson& body) {
    if (!svc.reranker()) {
        return failure({400,
                        "model '" + svc.model_name() +
                            "' is not a reranker (it has no classification head); load one such as bge-reranker",
                        "model"});
    }
    const auto q = body.find("query");
    if (q == body.end() || !q->is_string()) return failure({400, "'query' must be a string", "query"});
    auto docs = body.find("documents");
    if (docs == body.end()) docs = body.find("texts");  // llama-server's alias
    if (docs == body.end() || !docs->is_array() || docs->empty())
        return failure({400, "'documents' must be a non-empty array of strings", "documents"});
    if (docs->size() > 2048) return failure({400, "'documents' holds more than 2048 items", "documents"});
    std::vector<std::string> texts;
    for (const auto& d : *docs) {
        if (d.is_string())
            texts.push_back(d.get<std::string>());
        else if (d.is_object() && d.contains("text") && d["text"].is_string())
            texts.push_back(d["text"].get<std::string>());
        else
            return failure({400, "each document must be a string or an object with a string 'text'", "documents"});
    }
    size_t top_n = texts.size();
    if (auto t = body.find("top_n"); t != body.end() && !t->is_null()) {
        if (!t->is_number_integer() || t->get<int64_t>() < 1)
            return failure({400, "'top_n' must be a positive integer", "top_n"});
        top_n = std::min(top_n, static_cast<size_t>(t->get<int64_t>()));
    }
    const bool return_documents = body.value("return_documents", ojson(false)) == true;
    std::vector<std::pair<float, size_t>> scored;
    size_t tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        size_t n = 0;
        auto score = svc.rerank(q->get<std::string>(), texts[i], n);
        if (!score) return failure({400, "document " + std::to_string(i) + ": " + score.error().message, "documents"});
        tokens += n;
        scored.emplace_back(*score, i);
    }
    // Highest first; equal scores keep the request's order.
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    ojson results = ojson::array();
    for (size_t r = 0; r < top_n; ++r) {
        ojson item = {{"index", scored[r].second}, {"relevance_score", scored[r].first}};
        if (return_documents) item["document"] = {{"text", texts[scored[r].second]}};
        results.push_back(std::move(item));
    }
    return {200, ojson{{"model", svc.model_name()},
                       {"object", "list"},
                       {"results", results},
                       {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}};
}

void add_openai_routes(http::Server& srv, ModelPool& pool, const HttpOptions& opt) {
    // The request's model, loaded; null after answering the error.
    auto model_for = [&pool](const ojson& body, http::Response& res) {
        ApiError err;
        const auto it = body.find("model");
        auto svc = pool.acquire(it != body.end() && it->is_string() ? it->get<std::string>() : "", std::nullopt, err);
        if (!svc) send_openai_error(res, err);
        return svc;
    };

    srv.route(
        "POST", "/v1/chat/completions", http::Server::Kind::Heavy,
        [&opt, model_for](const http::Request& req, http::Response& res) {
            ojson body;
            ApiError err;
            bool stream = false;
            if (!parse_body(req, body, err) || !stream_flag(body, stream, err)) {
                send_openai_error(res, err);
                return;
            }
            ensure_seed(body);
            auto held = model_for(body, res);
            if (!held) return;
            Service& svc = *held;
            if (!stream) {
                send(res, openai_chat_completion(svc, body, opt.request_timeout_s, [&req](std::function<void()> f) {
                         req.connection->on_close(std::move(f));
                     }));
                return;
            }
            const int n_choices = choice_count(body, err);
            if (n_choices == 0) {
                send_openai_error(res, err);
                return;
            }
            if (n_choices > 1) {
                if (active_tools(body) != nullptr || svc.tool_syntax() == engine::ToolSyntax::Harmony) {
                    send_openai_error(res, {400,
                                            "streaming n > 1 choices with tools (or from a harmony model) is not "
                                            "supported; stream one choice or do not stream",
                                            "n"});
                    return;
                }
                size_t n_prompt = 0;
                auto jobs = start_choices(start_chat, svc, body, err, n_prompt);
                if (jobs.empty()) {
                    send_openai_error(res, err);
                    return;
                }
                const std::string id = new_id("chatcmpl");
                const int64_t created = unix_now();
                const std::string model = svc.model_name();
                const bool want_logprobs = wants_chat_logprobs(body);
                std::vector<ojson> first;
                for (int i = 0; i < n_choices; ++i) first.push_back(chat_chunk(id, created, model, role_delta(i)));
                stream_choices(
                    res, jobs, opt.request_timeout_s,
                    [=, keep = held](int i, const std::string& text, const engine::JobEvent* final,
                                     const std::vector<sampling::TokenLogprob>& lps) {
                        ojson logprobs =
                            want_logprobs && !final ? chat_logprobs(keep->tokenizer(), lps) : ojson(nullptr);
                        return chat_chunk(id, created, model, content_delta(i, text, final, std::move(logprobs)));
                    },
                    wants_usage(body),
                    [=](const std::vector<engine::JobEvent>& finals) {
                        ojson j = chat_chunk(id, created, model, ojson::array());
                        j["usage"] = usage_of(finals, n_prompt);
                        return j;
                    },
                    first);
                return;
            }
            const engine::ToolSyntax syntax = svc.tool_syntax();
            // A harmony answer is parsed whole, as tool calls are: its channels are known at the end.
            const bool parse_tools = active_tools(body) != nullptr || syntax == engine::ToolSyntax::Harmony;
            size_t n_prompt = 0;
            auto job = start_chat(svc, body, err, n_prompt);
            if (!job) {
                send_openai_error(res, err);
                return;
            }
            const std::string id = new_id("chatcmpl");
            const int64_t created = unix_now();
            const std::string model = svc.model_name();
            const bool want_logprobs = wants_chat_logprobs(body);
            auto base = [=](ojson choices) { return chat_chunk(id, created, model, std::move(choices)); };
            stream_sse(
                res, job, opt.request_timeout_s,
                [=, keep = held](const std::string& text, const engine::JobEvent* final,
                                 const std::vector<sampling::TokenLogprob>& lps) {
                    ojson logprobs = want_logprobs && !final ? chat_logprobs(keep->tokenizer(), lps) : ojson(nullptr);
                    return base(content_delta(0, text, final, std::move(logprobs)));
                },
                wants_usage(body),
                [=](const engine::JobEvent& e) {
                    ojson j = base(ojson::array());
                    j["usage"] = usage_json(e.timings, n_prompt);
                    return j;
                },
                base(role_delta(0)),
                parse_tools
                    ? std::function<std::vector<ojson>(const std::string&, const engine::JobEvent&)>(
                          [=](const std::string& text, const engine::JobEvent& e) {
                              const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
                              std::vector<ojson> out;
                              auto choice = [&](ojson delta, ojson finish) {
                                  ojson c = {{"index", 0},
                                             {"delta", std::move(delta)},
                                             {"logprobs", nullptr},
                                             {"finish_reason", finish}};
                                  if (!finish.is_null()) add_violations(c, e);
                                  return base(ojson::array({std::move(c)}));
                              };
                              const bool harmony = syntax == engine::ToolSyntax::Harmony;
                              if (harmony && !a.reasoning.empty())
                                  out.push_back(choice({{"reasoning_content", a.reasoning}}, nullptr));
                              if (a.calls.empty()) {
                                  const std::string& content = harmony ? a.content : text;
                                  if (!content.empty()) out.push_back(choice({{"content", content}}, nullptr));
                                  out.push_back(choice(ojson::object(), finish_reason(e)));
                              } else {
                                  if (!a.content.empty()) out.push_back(choice({{"content", a.content}}, nullptr));
                                  out.push_back(choice({{"tool_calls", openai_tool_calls(a.calls, "call-" + id, true)}},
                                                       nullptr));
                                  out.push_back(
                                      choice(ojson::object(), e.violations.empty() ? "tool_calls" : finish_reason(e)));
                              }
                              return out;
                          })
                    : nullptr);
        });

    srv.route("POST", "/v1/completions", http::Server::Kind::Heavy,
              [&opt, model_for](const http::Request& req, http::Response& res) {
                  ojson body;
                  ApiError err;
                  bool stream = false;
                  if (!parse_body(req, body, err) || !stream_flag(body, stream, err)) {
                      send_openai_error(res, err);
                      return;
                  }
                  ensure_seed(body);
                  auto held = model_for(body, res);
                  if (!held) return;
                  Service& svc = *held;
                  if (!stream) {
                      send(res, openai_completion(svc, body, opt.request_timeout_s, [&req](std::function<void()> f) {
                               req.connection->on_close(std::move(f));
                           }));
                      return;
                  }
                  const int n_choices = choice_count(body, err);
                  if (n_choices == 0) {
                      send_openai_error(res, err);
                      return;
                  }
                  if (n_choices > 1) {
                      size_t n_prompt = 0;
                      auto jobs = start_choices(start_completion, svc, body, err, n_prompt);
                      if (jobs.empty()) {
                          send_openai_error(res, err);
                          return;
                      }
                      const std::string id = new_id("cmpl");
                      const int64_t created = unix_now();
                      const std::string model = svc.model_name();
                      const bool want_logprobs = wants_completion_logprobs(body);
                      auto offsets = std::make_shared<std::vector<size_t>>(static_cast<size_t>(n_choices), 0);
                      stream_choices(
                          res, jobs, opt.request_timeout_s,
                          [=, keep = held](int i, const std::string& text, const engine::JobEvent* final,
                                           const std::vector<sampling::TokenLogprob>& lps) {
                              ojson logprobs = nullptr;
                              if (want_logprobs && !final)
                                  logprobs =
                                      completion_logprobs(keep->tokenizer(), lps, (*offsets)[static_cast<size_t>(i)]);
                              ojson j = completion_json(id, created, model, text, final, std::move(logprobs));
                              j["choices"][0]["index"] = i;
                              return j;
                          },
                          wants_usage(body),
                          [=](const std::vector<engine::JobEvent>& finals) {
                              ojson j = completion_json(id, created, model, "", nullptr);
                              j["choices"] = ojson::array();
                              j["usage"] = usage_of(finals, n_prompt);
                              return j;
                          },
                          {});
                      return;
                  }
                  size_t n_prompt = 0;
                  auto job = start_completion(svc, body, err, n_prompt);
                  if (!job) {
                      send_openai_error(res, err);
                      return;
                  }
                  const std::string id = new_id("cmpl");
                  const int64_t created = unix_now();
                  const std::string model = svc.model_name();
                  const bool want_logprobs = wants_completion_logprobs(body);
                  auto offset = std::make_shared<size_t>(0);  // text_offset runs on across chunks
                  auto make = [=, keep = held](const std::string& text, const engine::JobEvent* final,
                                               const std::vector<sampling::TokenLogprob>& lps) {
                      ojson logprobs = want_logprobs && !final ? completion_logprobs(keep->tokenizer(), lps, *offset)
                                                               : ojson(nullptr);
                      return completion_json(id, created, model, text, final, std::move(logprobs));
                  };
                  stream_sse(
                      res, job, opt.request_timeout_s, make, wants_usage(body),
                      [=](const engine::JobEvent& e) {
                          ojson j = make("", &e, {});
                          j["choices"] = ojson::array();
                          j["usage"] = usage_json(e.timings, n_prompt);
                          return j;
                      },
                      ojson());
              });

    srv.route("GET", "/v1/models", http::Server::Kind::Light, [&pool](const http::Request&, http::Response& res) {
        ojson data = ojson::array();
        for (const ModelSpec& m : pool.specs())
            data.push_back({{"id", m.name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "terraferma"}});
        res.set_content(dump(ojson{{"object", "list"}, {"data", data}}), "application/json");
    });

    srv.route(
        "GET", "/v1/models/", http::Server::Kind::Light,
        [&pool](const http::Request& req, http::Response& res) {
            const std::string name = req.matches[1];
            for (const ModelSpec& m : pool.specs()) {
                if (m.name == name) {
                    res.set_content(
                        dump(ojson{
                            {"id", m.name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "terraferma"}}),
                        "application/json");
                    return;
                }
            }
            send_openai_error(res, {404, "the model '" + name + "' does not exist", "model"});
        },
        /*prefix=*/true);

    // Endpoints answered whole from the request's body by the model it names.
    auto answer_route = [&srv, model_for](const char* path, ApiResult (*answer)(Service&, const ojson&)) {
        srv.route("POST", path, http::Server::Kind::Heavy,
                  [model_for, answer](const http::Request& req, http::Response& res) {
                      ojson body;
                      ApiError err;
                      if (!parse_body(req, body, err)) {
                          send_openai_error(res, err);
                          return;
                      }
                      auto held = model_for(body, res);
                      if (!held) return;
                      send(res, answer(*held, body));
                  });
    };
    answer_route("/v1/embeddings", openai_embeddings);
    answer_route("/v1/rerank", openai_rerank);
    answer_route("/rerank", openai_rerank);
}

}  // namespace tf::server
