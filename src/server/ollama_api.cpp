// /api/chat, /api/generate, /api/embed(dings), /api/tags, /api/show, /api/ps, /api/version — the shapes the
// official Ollama clients send and parse; streamed as newline-delimited JSON by default.
#include <chrono>

#include "server/api.h"
#include "server/http_util.h"
#include "server/params.h"
#include "util/sha256.h"

namespace tf::server {

namespace {

bool prepare(Service& svc, const ojson& body, engine::GenerationRequest& r, ApiError& err) {
    if (!ollama_options(body.value("options", ojson()), svc.model().hp.n_vocab, r.options, err)) return false;
    // "logprobs": true and "top_logprobs" 0..20, as Ollama 0.12.11+ takes them.
    auto lp = body.find("logprobs");
    if (lp != body.end() && !lp->is_null() && !lp->is_boolean()) {
        err = {400, "'logprobs' must be a boolean", "logprobs"};
        return false;
    }
    const bool on = lp != body.end() && lp->is_boolean() && lp->get<bool>();
    int top = 0;
    if (auto t = body.find("top_logprobs"); t != body.end() && !t->is_null()) {
        if (!t->is_number_integer() || t->get<int64_t>() < 0 || t->get<int64_t>() > 20) {
            err = {400, "'top_logprobs' must be an integer from 0 to 20", "top_logprobs"};
            return false;
        }
        top = t->get<int>();
    }
    r.options.logprobs = on ? top : -1;
    if (auto it = body.find("format"); it != body.end() && !it->is_null()) {
        if (it->is_string() && it->get<std::string>() == "json") {
            r.constraint = svc.schema_constraint(ojson{{"type", "object"}}, err);
        } else if (it->is_object()) {
            r.constraint = svc.schema_constraint(*it, err);
        } else if (!(it->is_string() && it->get<std::string>().empty())) {
            err = {400, "'format' must be \"json\" or a JSON schema", "format"};
            return false;
        }
        if (!r.constraint && !err.message.empty()) return false;
    }
    return true;
}

ojson details(const Service& svc) {
    const auto& hp = svc.model().hp;
    return {{"parent_model", ""}, {"format", "gguf"}, {"family", hp.arch}, {"families", ojson::array({hp.arch})},
            {"parameter_size", ""}, {"quantization_level", ""}};
}

const char* done_reason(engine::StopReason r) {
    return r == engine::StopReason::Length || r == engine::StopReason::Context ? "length" : "stop";
}

ojson final_fields(const engine::JobEvent& e) {
    const auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
    return {{"done", true},
            {"done_reason", done_reason(e.reason)},
            {"total_duration", ns(e.timings.prompt_ms + e.timings.generate_ms)},
            {"load_duration", 0},
            {"prompt_eval_count", e.timings.n_prompt},
            {"prompt_eval_duration", ns(e.timings.prompt_ms)},
            {"eval_count", e.timings.n_generated},
            {"eval_duration", ns(e.timings.generate_ms)}};
}

// Answers a job either as one JSON object or as NDJSON lines, `piece(text)` shaping the text.
// With `finish`, the text is held back and the last line is finish(text) (tool calls). With
// `logprobs_of` (the request asked for them), each object carries its tokens' logprobs.
void answer(httplib::Response& res, std::shared_ptr<engine::Job> job, bool stream, int timeout_s,
            std::function<ojson(const std::string&)> piece, std::function<ojson(const std::string&)> finish = nullptr,
            const tok::Tokenizer* logprobs_of = nullptr) {
    if (!stream) {
        std::string text;
        std::vector<sampling::TokenLogprob> lps;
        const engine::JobEvent e = collect(*job, text, timeout_s, &lps);
        if (!e.error.empty()) {
            send_ollama_error(res, {500, e.error, ""});
            return;
        }
        ojson j = finish ? finish(text) : piece(text);
        if (logprobs_of != nullptr) j["logprobs"] = logprob_entries(*logprobs_of, lps);
        j.update(final_fields(e));
        res.set_content(dump(j), "application/json");
        return;
    }
    res.set_chunked_content_provider("application/x-ndjson", [=](size_t, httplib::DataSink& sink) {
        auto send = [&](const ojson& j) {
            const std::string line = dump(j) + "\n";
            return sink.write(line.data(), line.size());
        };
        const auto deadline = deadline_after(timeout_s);
        std::string held;
        std::vector<sampling::TokenLogprob> held_lps;
        while (true) {
            const engine::JobEvent e = next_event(*job, deadline, [&] { return !sink.is_writable(); });
            if (!e.error.empty()) {
                send(ojson{{"error", e.error}});
                break;
            }
            if (finish) {
                held += e.text;
                held_lps.insert(held_lps.end(), e.logprobs.begin(), e.logprobs.end());
                if (!e.done) continue;
            }
            if (!e.text.empty() || !e.logprobs.empty() || e.done) {
                ojson j = finish ? finish(held) : piece(e.text);
                if (logprobs_of != nullptr && !(e.done && !finish && e.logprobs.empty())) {
                    j["logprobs"] = logprob_entries(*logprobs_of, finish ? held_lps : e.logprobs);
                }
                if (e.done) {
                    j.update(final_fields(e));
                } else {
                    j["done"] = false;
                }
                if (!send(j)) {
                    job->cancel();
                    return false;
                }
            }
            if (e.done) break;
        }
        sink.done();
        return true;
    });
}

}  // namespace

void add_ollama_routes(httplib::Server& http, Service& svc, const HttpOptions& opt) {
    http.Post("/api/chat", [&svc, &opt](const httplib::Request& req, httplib::Response& res) {
        ojson body;
        ApiError err;
        engine::GenerationRequest r;
        if (!parse_body(req, body, err)) {
            send_ollama_error(res, err);
            return;
        }
        const ojson* tools = request_tools(body);
        if (!svc.render(body.value("messages", ojson()), r.prompt, err, tools) || !prepare(svc, body, r, err)) {
            send_ollama_error(res, err);
            return;
        }
        auto job = submit(svc, std::move(r), err);
        if (!job) {
            send_ollama_error(res, err);
            return;
        }
        const std::string model = svc.model_name();
        auto piece = [=](const std::string& text) {
            return ojson{{"model", model}, {"created_at", iso_now()}, {"message", {{"role", "assistant"}, {"content", text}}}};
        };
        std::function<ojson(const std::string&)> finish;
        if (tools != nullptr) {
            const engine::ToolSyntax syntax = svc.tool_syntax();
            finish = [=](const std::string& text) {
                const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
                ojson j = piece(a.calls.empty() ? text : a.content);
                if (!a.calls.empty()) {
                    ojson calls = ojson::array();
                    for (const auto& c : a.calls) calls.push_back({{"function", {{"name", c.name}, {"arguments", c.arguments}}}});
                    j["message"]["tool_calls"] = calls;
                }
                return j;
            };
        }
        const tok::Tokenizer* lp = body.value("logprobs", ojson(false)) == true ? &svc.tokenizer() : nullptr;
        answer(res, job, body.value("stream", true), opt.request_timeout_s, piece, finish, lp);
    });

    http.Post("/api/generate", [&svc, &opt](const httplib::Request& req, httplib::Response& res) {
        ojson body;
        ApiError err;
        engine::GenerationRequest r;
        if (!parse_body(req, body, err)) {
            send_ollama_error(res, err);
            return;
        }
        const std::string prompt = body.value("prompt", "");
        const std::string model = svc.model_name();
        if (prompt.empty()) {  // Ollama answers an empty prompt by loading the model
            res.set_content(dump(ojson{{"model", model}, {"created_at", iso_now()}, {"response", ""}, {"done", true}, {"done_reason", "load"}}),
                            "application/json");
            return;
        }
        if (body.value("raw", false)) {
            r.prompt = svc.tokenizer().encode(prompt, true, false);
        } else {
            ojson messages = ojson::array();
            if (body.contains("system") && body["system"].is_string()) messages.push_back({{"role", "system"}, {"content", body["system"]}});
            messages.push_back({{"role", "user"}, {"content", prompt}});
            if (!svc.render(messages, r.prompt, err)) {
                send_ollama_error(res, err);
                return;
            }
        }
        if (!prepare(svc, body, r, err)) {
            send_ollama_error(res, err);
            return;
        }
        auto job = submit(svc, std::move(r), err);
        if (!job) {
            send_ollama_error(res, err);
            return;
        }
        const tok::Tokenizer* lp = body.value("logprobs", ojson(false)) == true ? &svc.tokenizer() : nullptr;
        answer(
            res, job, body.value("stream", true), opt.request_timeout_s,
            [=](const std::string& text) { return ojson{{"model", model}, {"created_at", iso_now()}, {"response", text}}; }, nullptr, lp);
    });

    http.Get("/api/tags", [&svc](const httplib::Request&, httplib::Response& res) {
        ojson m = {{"name", svc.model_name()}, {"model", svc.model_name()}, {"modified_at", iso_now()},
                   {"size", svc.model().file->bytes().size()}, {"digest", ""}, {"details", details(svc)}};
        res.set_content(dump(ojson{{"models", ojson::array({m})}}), "application/json");
    });

    http.Get("/api/ps", [&svc](const httplib::Request&, httplib::Response& res) {
        ojson m = {{"name", svc.model_name()}, {"model", svc.model_name()}, {"size", svc.model().file->bytes().size()},
                   {"digest", ""}, {"details", details(svc)}, {"expires_at", "2999-01-01T00:00:00Z"}, {"size_vram", 0}};
        res.set_content(dump(ojson{{"models", ojson::array({m})}}), "application/json");
    });

    http.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(dump(ojson{{"version", "0.1.0"}}), "application/json");
    });

    http.Post("/api/show", [&svc](const httplib::Request&, httplib::Response& res) {
        const auto& hp = svc.model().hp;
        ojson info = {{"general.architecture", hp.arch}, {hp.arch + ".context_length", hp.n_ctx_train},
                      {hp.arch + ".embedding_length", hp.n_embd}, {hp.arch + ".block_count", hp.n_layer}};
        res.set_content(dump(ojson{{"modelfile", ""}, {"parameters", ""}, {"template", ""}, {"details", details(svc)}, {"model_info", info}}),
                        "application/json");
    });

    // /api/embed: "input" a string or strings; "truncate" (default true) cuts inputs longer than
    // the context instead of refusing them, as Ollama does.
    http.Post("/api/embed", [&svc](const httplib::Request& req, httplib::Response& res) {
        const auto t0 = std::chrono::steady_clock::now();
        ojson body;
        ApiError err;
        if (!parse_body(req, body, err)) {
            send_ollama_error(res, err);
            return;
        }
        std::vector<std::string> inputs;
        const ojson input = body.value("input", ojson());
        if (input.is_string()) {
            inputs.push_back(input.get<std::string>());
        } else if (input.is_array() && !input.empty()) {
            for (const auto& x : input) {
                if (!x.is_string()) {
                    send_ollama_error(res, {400, "'input' must be a string or an array of strings", "input"});
                    return;
                }
                inputs.push_back(x.get<std::string>());
            }
        } else {
            send_ollama_error(res, {400, "'input' must be a string or a non-empty array of strings", "input"});
            return;
        }
        const ojson truncate_field = body.value("truncate", ojson(true));
        if (!truncate_field.is_boolean()) {
            send_ollama_error(res, {400, "'truncate' must be a boolean", "truncate"});
            return;
        }
        const bool truncate = truncate_field.get<bool>();
        ojson embeddings = ojson::array();
        size_t tokens = 0;
        for (const auto& text : inputs) {
            std::vector<int32_t> ids = svc.tokenizer().encode(text, true, false);
            if (static_cast<int64_t>(ids.size()) > svc.embedding_max_tokens()) {
                if (!truncate) {
                    send_ollama_error(res, {400, "the input has " + std::to_string(ids.size()) + " tokens, more than the context of " +
                                                     std::to_string(svc.embedding_max_tokens()) + " (truncate is false)", "input"});
                    return;
                }
                ids.resize(static_cast<size_t>(svc.embedding_max_tokens()));
            }
            if (ids.empty()) {
                send_ollama_error(res, {400, "an input is empty", "input"});
                return;
            }
            auto v = svc.embed(ids);
            if (!v) {
                send_ollama_error(res, {500, v.error().message, ""});
                return;
            }
            tokens += ids.size();
            embeddings.push_back(*v);
        }
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        res.set_content(dump(ojson{{"model", svc.model_name()}, {"embeddings", embeddings}, {"total_duration", ns}, {"load_duration", 0},
                                   {"prompt_eval_count", tokens}}),
                        "application/json");
    });

    // The older /api/embeddings: one "prompt", one "embedding".
    http.Post("/api/embeddings", [&svc](const httplib::Request& req, httplib::Response& res) {
        ojson body;
        ApiError err;
        if (!parse_body(req, body, err)) {
            send_ollama_error(res, err);
            return;
        }
        if (!body.contains("prompt") || !body["prompt"].is_string()) {
            send_ollama_error(res, {400, "'prompt' must be a string", "prompt"});
            return;
        }
        std::vector<int32_t> ids = svc.tokenizer().encode(body["prompt"].get<std::string>(), true, false);
        if (ids.empty()) {
            res.set_content(dump(ojson{{"embedding", ojson::array()}}), "application/json");
            return;
        }
        if (static_cast<int64_t>(ids.size()) > svc.embedding_max_tokens()) ids.resize(static_cast<size_t>(svc.embedding_max_tokens()));
        auto v = svc.embed(ids);
        if (!v) {
            send_ollama_error(res, {500, v.error().message, ""});
            return;
        }
        res.set_content(dump(ojson{{"embedding", *v}}), "application/json");
    });
}

}  // namespace tf::server
