// /v1/chat/completions, /v1/completions, /v1/models — the shapes the official OpenAI SDKs
// send and parse, streamed as server-sent events when asked.
#include <atomic>

#include "server/api.h"
#include "server/http_util.h"
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
        ojson c = {{"id", id_base + "-" + std::to_string(i)}, {"type", "function"},
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

// Builds the request common to both endpoints; `prompt` must be filled by the caller.
bool prepare(Service& svc, const ojson& body, engine::GenerationRequest& r, ApiError& err) {
    if (!openai_options(body, svc.model().hp.n_vocab, r.options, err)) return false;
    if (auto it = body.find("logprobs"); it != body.end() && it->is_boolean() && it->get<bool>()) {
        err = {400, "logprobs are not supported yet", "logprobs"};
        return false;
    }
    if (const ojson* tools = active_tools(body)) {
        const ojson choice = body.value("tool_choice", ojson("auto"));
        std::string only;
        bool forced = false;
        if (choice.is_string()) {
            const std::string c = choice.get<std::string>();
            if (c == "required") forced = true;
            else if (c != "auto" && c != "none") {
                err = {400, "tool_choice must be auto, none, required or a function", "tool_choice"};
                return false;
            }
        } else if (choice.is_object() && choice.contains("function") && choice["function"].is_object() && choice["function"].contains("name")) {
            forced = true;
            only = choice["function"]["name"].get<std::string>();
        } else {
            err = {400, "tool_choice must be auto, none, required or a function", "tool_choice"};
            return false;
        }
        if (forced) {
            // The answer must be calls: the grammar of this model's tool-call syntax.
            auto g = engine::tool_call_grammar(svc.tool_syntax(), *tools, body.value("parallel_tool_calls", true) && only.empty(), only);
            if (!g) {
                err = {400, g.error().message, "tools"};
                return false;
            }
            r.constraint = svc.grammar_constraint(*g, err);
            if (!r.constraint) return false;
        }
    }
    if (auto it = body.find("response_format"); it != body.end() && !it->is_null() && !(r.constraint && it->is_object() && it->value("type", "") == "text")) {
        if (r.constraint) {
            err = {400, "response_format cannot be combined with a forced tool_choice", "response_format"};
            return false;
        }
        const std::string type = it->is_object() ? it->value("type", "") : "";
        if (type == "json_object") {
            r.constraint = svc.schema_constraint(ojson{{"type", "object"}}, err);
            if (!r.constraint) return false;
        } else if (type == "json_schema") {
            const ojson* schema = nullptr;
            if (it->contains("json_schema") && (*it)["json_schema"].is_object() && (*it)["json_schema"].contains("schema")) {
                schema = &(*it)["json_schema"]["schema"];
            }
            if (schema == nullptr) {
                err = {400, "response_format json_schema needs json_schema.schema", "response_format"};
                return false;
            }
            r.constraint = svc.schema_constraint(*schema, err);
            if (!r.constraint) return false;
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

// Streams a job as server-sent events; `chunk(text, finish)` builds each event's JSON.
// With `finalize`, text is held back and the chunks it returns are sent at the end instead
// (tool calls are known only once the answer is complete).
void stream_sse(httplib::Response& res, std::shared_ptr<engine::Job> job, int timeout_s,
                std::function<ojson(const std::string& text, const engine::JobEvent* final)> chunk, bool include_usage,
                std::function<ojson(const engine::JobEvent&)> usage_chunk, ojson first,
                std::function<std::vector<ojson>(const std::string& text, const engine::JobEvent& final)> finalize = nullptr) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) {
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
            } else if (!e.text.empty() && !send(chunk(e.text, nullptr))) {
                job->cancel();  // the client went away: free its slot
                return false;
            }
            if (e.done) {
                if (finalize) {
                    for (const ojson& c : finalize(held, e)) send(c);
                } else {
                    send(chunk("", &e));
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

void add_openai_routes(httplib::Server& http, Service& svc, const HttpOptions& opt) {
    http.Post("/v1/chat/completions", [&svc, &opt](const httplib::Request& req, httplib::Response& res) {
        ojson body;
        ApiError err;
        engine::GenerationRequest r;
        if (!parse_body(req, body, err)) {
            send_openai_error(res, err);
            return;
        }
        const ojson* tools = request_tools(body);
        if (!svc.render(body.value("messages", ojson()), r.prompt, err, tools) || !prepare(svc, body, r, err)) {
            send_openai_error(res, err);
            return;
        }
        const bool parse_tools = active_tools(body) != nullptr;
        const engine::ToolSyntax syntax = svc.tool_syntax();
        const size_t n_prompt = r.prompt.size();
        auto job = submit(svc, std::move(r), err);
        if (!job) {
            send_openai_error(res, err);
            return;
        }
        const std::string id = new_id("chatcmpl");
        const int64_t created = unix_now();
        const std::string model = svc.model_name();
        const bool stream = body.value("stream", false);
        if (!stream) {
            std::string text;
            const engine::JobEvent e = collect(*job, text, opt.request_timeout_s);
            if (!e.error.empty()) {
                send_openai_error(res, {500, e.error, ""});
                return;
            }
            ojson message = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
            std::string finish = openai_finish_reason(e.reason);
            if (parse_tools) {
                const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
                if (!a.calls.empty()) {
                    message["content"] = a.content.empty() ? ojson(nullptr) : ojson(a.content);
                    message["tool_calls"] = openai_tool_calls(a.calls, "call-" + id, false);
                    finish = "tool_calls";
                }
            }
            ojson j = {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model},
                       {"choices", ojson::array({{{"index", 0},
                                                  {"message", message},
                                                  {"logprobs", nullptr},
                                                  {"finish_reason", finish}}})},
                       {"usage", usage_json(e.timings, n_prompt)},
                       {"system_fingerprint", "terraferma"}};
            res.set_content(dump(j), "application/json");
            return;
        }
        const bool include_usage = body.contains("stream_options") && body["stream_options"].is_object() &&
                                   body["stream_options"].value("include_usage", false);
        auto base = [=](ojson choices) {
            return ojson{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
                         {"system_fingerprint", "terraferma"}, {"choices", std::move(choices)}};
        };
        ojson first = base(ojson::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}}));
        stream_sse(
            res, job, opt.request_timeout_s,
            [=](const std::string& text, const engine::JobEvent* final) {
                ojson delta = final ? ojson::object() : ojson{{"content", text}};
                if (final && !text.empty()) delta = {{"content", text}};
                return base(ojson::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr},
                                           {"finish_reason", final ? ojson(openai_finish_reason(final->reason)) : ojson(nullptr)}}}));
            },
            include_usage,
            [=](const engine::JobEvent& e) {
                ojson j = base(ojson::array());
                j["usage"] = usage_json(e.timings, n_prompt);
                return j;
            },
            first,
            parse_tools ? std::function<std::vector<ojson>(const std::string&, const engine::JobEvent&)>(
                              [=](const std::string& text, const engine::JobEvent& e) {
                                  const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
                                  std::vector<ojson> out;
                                  auto choice = [&](ojson delta, ojson finish) {
                                      return base(ojson::array({{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}}}));
                                  };
                                  if (a.calls.empty()) {
                                      if (!text.empty()) out.push_back(choice({{"content", text}}, nullptr));
                                      out.push_back(choice(ojson::object(), openai_finish_reason(e.reason)));
                                  } else {
                                      if (!a.content.empty()) out.push_back(choice({{"content", a.content}}, nullptr));
                                      out.push_back(choice({{"tool_calls", openai_tool_calls(a.calls, "call-" + id, true)}}, nullptr));
                                      out.push_back(choice(ojson::object(), "tool_calls"));
                                  }
                                  return out;
                              })
                        : nullptr);
    });

    http.Post("/v1/completions", [&svc, &opt](const httplib::Request& req, httplib::Response& res) {
        ojson body;
        ApiError err;
        engine::GenerationRequest r;
        if (!parse_body(req, body, err)) {
            send_openai_error(res, err);
            return;
        }
        if (!body.contains("prompt") || !body["prompt"].is_string()) {
            send_openai_error(res, {400, "'prompt' must be a string", "prompt"});
            return;
        }
        r.prompt = svc.tokenizer().encode(body["prompt"].get<std::string>(), true, false);
        if (!prepare(svc, body, r, err)) {
            send_openai_error(res, err);
            return;
        }
        if (!body.contains("max_tokens")) r.options.max_tokens = 16;  // OpenAI's default for completions
        const size_t n_prompt = r.prompt.size();
        auto job = submit(svc, std::move(r), err);
        if (!job) {
            send_openai_error(res, err);
            return;
        }
        const std::string id = new_id("cmpl");
        const int64_t created = unix_now();
        const std::string model = svc.model_name();
        auto make = [=](const std::string& text, const engine::JobEvent* final) {
            return ojson{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                         {"choices", ojson::array({{{"text", text}, {"index", 0}, {"logprobs", nullptr},
                                                    {"finish_reason", final ? ojson(openai_finish_reason(final->reason)) : ojson(nullptr)}}})}};
        };
        if (!body.value("stream", false)) {
            std::string text;
            const engine::JobEvent e = collect(*job, text, opt.request_timeout_s);
            if (!e.error.empty()) {
                send_openai_error(res, {500, e.error, ""});
                return;
            }
            ojson j = make(text, &e);
            j["usage"] = usage_json(e.timings, n_prompt);
            res.set_content(dump(j), "application/json");
            return;
        }
        const bool include_usage = body.contains("stream_options") && body["stream_options"].is_object() &&
                                   body["stream_options"].value("include_usage", false);
        stream_sse(res, job, opt.request_timeout_s, make, include_usage,
                   [=](const engine::JobEvent& e) {
                       ojson j = make("", &e);
                       j["choices"] = ojson::array();
                       j["usage"] = usage_json(e.timings, n_prompt);
                       return j;
                   },
                   ojson());
    });

    http.Get("/v1/models", [&svc](const httplib::Request&, httplib::Response& res) {
        ojson j = {{"object", "list"},
                   {"data", ojson::array({{{"id", svc.model_name()}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "terraferma"}}})}};
        res.set_content(dump(j), "application/json");
    });

    http.Post("/v1/embeddings", [](const httplib::Request&, httplib::Response& res) {
        send_openai_error(res, {400, "this model serves no embeddings (no pooling support yet)", "model"});
    });
}

}  // namespace tf::server
