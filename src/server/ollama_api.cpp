// /api/chat, /api/generate, /api/embed(dings), /api/tags, /api/show, /api/ps, /api/version — the shapes the
// official Ollama clients send and parse; streamed as newline-delimited JSON by default.
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <ctime>

#include "gguf/file.h"
#include "server/api.h"
#include "server/http_util.h"
#include "server/params.h"
#include "util/sha256.h"

namespace tf::server {

namespace {

bool prepare(Service& svc, const ojson& body, engine::GenerationRequest& r, ApiError& err) {
    if (!svc.check_generative(err)) return false;
    if (!ollama_options(body.value("options", ojson()), svc.model().hp.n_vocab, r.options, err)) return false;
    r.options.resample = body.value("stream", ojson(true)) == true ? 0 : kResampleDraws;  // see the OpenAI prepare()
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
            r.contract = svc.schema_contract(ojson{{"type", "object"}}, false, err);
        } else if (it->is_object()) {
            r.contract = svc.schema_contract(*it, false, err);
        } else if (!(it->is_string() && it->get<std::string>().empty())) {
            err = {400, "'format' must be \"json\" or a JSON schema", "format"};
            return false;
        }
        if (!r.contract && !err.message.empty()) return false;
    }
    return true;
}

ojson details_json(const std::string& arch) {
    return {{"parent_model", ""},   {"format", "gguf"},        {"family", arch}, {"families", ojson::array({arch})},
            {"parameter_size", ""}, {"quantization_level", ""}};
}

ojson details(const Service& svc) {
    return details_json(svc.model().hp.arch);
}

// A configured model that may not be loaded: its architecture from the file's header.
ojson details(const ModelSpec& spec) {
    auto f = gguf::File::open(spec.path);
    return details_json(f ? f->get_string("general.architecture").value_or("") : "");
}

// Ollama's keep_alive: seconds as a number, or a Go duration ("5m", "1h30m", "10s", "-1");
// absent: the server's default. False with `err` when it cannot be read.
bool keep_alive_field(const ojson& body, std::optional<int>& out, ApiError& err) {
    out.reset();
    auto it = body.find("keep_alive");
    if (it == body.end() || it->is_null()) return true;
    if (it->is_number()) {
        out = static_cast<int>(std::max(-1.0, std::min(it->get<double>(), 1e9)));
        return true;
    }
    if (it->is_string()) {
        if (auto k = parse_duration_seconds(it->get<std::string>())) {
            out = *k;
            return true;
        }
    }
    err = {400, "'keep_alive' must be a number of seconds or a duration such as \"5m\" (negative: keep loaded)",
           "keep_alive"};
    return false;
}

// The request's model, loaded; null after answering the error.
std::shared_ptr<Service> model_for(ModelPool& pool, const ojson& body, http::Response& res,
                                   std::optional<int>* keep_out = nullptr) {
    ApiError err;
    std::optional<int> keep;
    if (!keep_alive_field(body, keep, err)) {
        send_ollama_error(res, err);
        return nullptr;
    }
    std::string name = body.value("model", ojson("")).is_string() ? body.value("model", "") : "";
    if (name.empty() && body.contains("name") && body["name"].is_string()) name = body["name"].get<std::string>();
    if (keep_out != nullptr) *keep_out = keep;
    auto svc = pool.acquire(name, keep, err);
    if (!svc) {
        if (err.status == 404) err.message = "model '" + name + "' not found";
        send_ollama_error(res, err);
    }
    return svc;
}

// A request's JSON body and its model, loaded; null after answering the error.
std::shared_ptr<Service> parse_for_model(ModelPool& pool, const http::Request& req, http::Response& res, ojson& body,
                                         std::optional<int>* keep_out = nullptr) {
    ApiError err;
    if (!parse_body(req, body, err)) {
        send_ollama_error(res, err);
        return nullptr;
    }
    if (req.path == "/api/chat" || req.path == "/api/generate") ensure_ollama_seed(body);
    return model_for(pool, body, res, keep_out);
}

std::string iso_time(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

ojson final_fields(const engine::JobEvent& e) {
    const auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
    ojson j = {{"done", true},
               {"done_reason", finish_reason(e)},
               {"total_duration", ns(e.timings.prompt_ms + e.timings.generate_ms)},
               {"load_duration", 0},
               {"prompt_eval_count", e.timings.n_prompt},
               {"prompt_eval_duration", ns(e.timings.prompt_ms)},
               {"eval_count", e.timings.n_generated},
               {"eval_duration", ns(e.timings.generate_ms)}};
    add_violations(j, e);
    return j;
}

// Answers a job either as one JSON object or as NDJSON lines, `piece(text)` shaping the text.
// With `finish`, the text is held back and the last line is finish(text) (tool calls). With
// `logprobs_of` (the request asked for them), each object carries its tokens' logprobs.
// `keep` holds the model until the last line is sent.
void answer(http::Response& res, std::shared_ptr<Service> keep, std::shared_ptr<engine::Job> job, bool stream,
            int timeout_s, std::function<ojson(const std::string&)> piece,
            std::function<ojson(const std::string&)> finish = nullptr, const tok::Tokenizer* logprobs_of = nullptr) {
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
    res.set_chunked_content_provider("application/x-ndjson", [=](size_t, http::DataSink& sink) {
        (void)keep;
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

void add_ollama_routes(http::Server& srv, ModelPool& pool, const HttpOptions& opt) {
    srv.route(
        "POST", "/api/chat", http::Server::Kind::Heavy, [&pool, &opt](const http::Request& req, http::Response& res) {
            ojson body;
            ApiError err;
            engine::GenerationRequest r;
            std::optional<int> keep;
            auto held = parse_for_model(pool, req, res, body, &keep);
            if (!held) return;
            Service& svc = *held;
            if (body.value("messages", ojson::array())
                    .empty()) {  // Ollama loads (or, with keep_alive 0, unloads) on an empty chat
                const bool unload = keep && *keep == 0;
                const std::string name = svc.model_name();
                held.reset();
                const bool gone = unload && pool.unload(name);
                res.set_content(dump(ojson{{"model", name},
                                           {"created_at", iso_now()},
                                           {"message", {{"role", "assistant"}, {"content", ""}}},
                                           {"done", true},
                                           {"done_reason", gone ? "unload" : "load"}}),
                                "application/json");
                return;
            }
            const ojson* tools = request_tools(body);
            if (!svc.render(body.value("messages", ojson()), r.prompt, err, tools) || !prepare(svc, body, r, err)) {
                send_ollama_error(res, err);
                return;
            }
            if (tools != nullptr && !r.contract) {
                // The model may answer in words or call tools; a call it starts is held to the
                // call grammar and its arguments checked against the tool's parameters.
                engine::ToolChoice tc;
                tc.syntax = svc.tool_syntax();
                r.contract = svc.tools_contract(*tools, tc, err);
                if (!r.contract) {
                    send_ollama_error(res, err);
                    return;
                }
            }
            const bool harmony = svc.tool_syntax() == engine::ToolSyntax::Harmony;
            r.options.render_special = harmony;  // its channels are marked by control tokens (see the OpenAI prepare())
            auto job = submit(svc, std::move(r), err);
            if (!job) {
                send_ollama_error(res, err);
                return;
            }
            const std::string model = svc.model_name();
            auto piece = [=](const std::string& text) {
                return ojson{{"model", model},
                             {"created_at", iso_now()},
                             {"message", {{"role", "assistant"}, {"content", text}}}};
            };
            std::function<ojson(const std::string&)> finish;
            if (tools != nullptr || harmony) {
                const engine::ToolSyntax syntax = svc.tool_syntax();
                finish = [=](const std::string& text) {
                    const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
                    ojson j = piece(a.calls.empty() && !harmony ? text : a.content);
                    if (harmony && !a.reasoning.empty()) j["message"]["thinking"] = a.reasoning;
                    if (!a.calls.empty()) {
                        ojson calls = ojson::array();
                        for (const auto& c : a.calls)
                            calls.push_back({{"function", {{"name", c.name}, {"arguments", c.arguments}}}});
                        j["message"]["tool_calls"] = calls;
                    }
                    return j;
                };
            }
            const tok::Tokenizer* lp = body.value("logprobs", ojson(false)) == true ? &svc.tokenizer() : nullptr;
            req.connection->on_close([job] { job->cancel(); });  // the client left: free the slot at once
            answer(res, held, job, body.value("stream", true), opt.request_timeout_s, piece, finish, lp);
        });

    srv.route(
        "POST", "/api/generate", http::Server::Kind::Heavy,
        [&pool, &opt](const http::Request& req, http::Response& res) {
            ojson body;
            ApiError err;
            engine::GenerationRequest r;
            std::optional<int> keep;
            auto held = parse_for_model(pool, req, res, body, &keep);
            if (!held) return;
            Service& svc = *held;
            const std::string prompt = body.value("prompt", "");
            const std::string model = svc.model_name();
            if (prompt.empty()) {  // Ollama answers an empty prompt by loading the model (keep_alive 0: unloading it)
                const bool unload = keep && *keep == 0;
                held.reset();
                const bool gone = unload && pool.unload(model);
                res.set_content(dump(ojson{{"model", model},
                                           {"created_at", iso_now()},
                                           {"response", ""},
                                           {"done", true},
                                           {"done_reason", gone ? "unload" : "load"}}),
                                "application/json");
                return;
            }
            if (body.value("raw", false)) {
                r.prompt = svc.tokenizer().encode(prompt, true, false);
            } else {
                ojson messages = ojson::array();
                if (body.contains("system") && body["system"].is_string())
                    messages.push_back({{"role", "system"}, {"content", body["system"]}});
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
            req.connection->on_close([job] { job->cancel(); });
            answer(
                res, held, job, body.value("stream", true), opt.request_timeout_s,
                [=](const std::string& text) {
                    return ojson{{"model", model}, {"created_at", iso_now()}, {"response", text}};
                },
                nullptr, lp);
        });

    srv.route("GET", "/api/tags", http::Server::Kind::Light, [&pool](const http::Request&, http::Response& res) {
        ojson models = ojson::array();
        for (const ModelSpec& spec : pool.specs()) {
            struct stat st {};
            const bool ok = ::stat(spec.path.c_str(), &st) == 0;
            const auto modified =
                ok ? std::chrono::system_clock::from_time_t(st.st_mtime) : std::chrono::system_clock::now();
            models.push_back({{"name", spec.name},
                              {"model", spec.name},
                              {"modified_at", iso_time(modified)},
                              {"size", ok ? static_cast<uint64_t>(st.st_size) : 0},
                              {"digest", spec.digest.size() > 7 ? spec.digest.substr(7) : ""},
                              {"details", details(spec)}});
        }
        res.set_content(dump(ojson{{"models", models}}), "application/json");
    });

    // Loaded models: their bytes (weights and KV cache) and when they unload unless used again.
    srv.route("GET", "/api/ps", http::Server::Kind::Light, [&pool](const http::Request&, http::Response& res) {
        ojson models = ojson::array();
        for (const ModelPool::Loaded& l : pool.loaded()) {
            models.push_back({{"name", l.name},
                              {"model", l.name},
                              {"size", l.bytes},
                              {"digest", ""},
                              {"details", details(*l.service)},
                              {"expires_at", l.expires ? iso_time(*l.expires) : "2999-01-01T00:00:00Z"},
                              {"size_vram", 0}});
        }
        res.set_content(dump(ojson{{"models", models}}), "application/json");
    });

    srv.route("GET", "/api/version", http::Server::Kind::Light, [](const http::Request&, http::Response& res) {
        res.set_content(dump(ojson{{"version", "0.2.0"}}), "application/json");
    });

    srv.route("POST", "/api/show", http::Server::Kind::Light, [&pool](const http::Request& req, http::Response& res) {
        ojson body;
        auto held = parse_for_model(pool, req, res, body);
        if (!held) return;
        Service& svc = *held;
        const auto& hp = svc.model().hp;
        ojson info = {{"general.architecture", hp.arch},
                      {hp.arch + ".context_length", hp.n_ctx_train},
                      {hp.arch + ".embedding_length", hp.n_embd},
                      {hp.arch + ".block_count", hp.n_layer}};
        const gguf::File& file = *svc.model().file;
        res.set_content(dump(ojson{{"modelfile", ""},
                                   {"parameters", ""},
                                   {"template", file.get_string("tokenizer.chat_template").value_or("")},
                                   {"license", file.get_string("general.license").value_or("")},
                                   {"details", details(svc)},
                                   {"model_info", info}}),
                        "application/json");
    });

    // /api/embed: "input" a string or strings; "truncate" (default true) cuts inputs longer than
    // the context instead of refusing them, as Ollama does.
    srv.route("POST", "/api/embed", http::Server::Kind::Heavy, [&pool](const http::Request& req, http::Response& res) {
        const auto t0 = std::chrono::steady_clock::now();
        ojson body;
        auto held = parse_for_model(pool, req, res, body);
        if (!held) return;
        Service& svc = *held;
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
        std::vector<std::vector<int32_t>> all;
        size_t tokens = 0;
        for (const auto& text : inputs) {
            std::vector<int32_t> ids = svc.tokenizer().encode(text, true, false);
            if (static_cast<int64_t>(ids.size()) > svc.embedding_max_tokens()) {
                if (!truncate) {
                    send_ollama_error(
                        res, {400,
                              "the input has " + std::to_string(ids.size()) + " tokens, more than the context of " +
                                  std::to_string(svc.embedding_max_tokens()) + " (truncate is false)",
                              "input"});
                    return;
                }
                ids.resize(static_cast<size_t>(svc.embedding_max_tokens()));
            }
            if (ids.empty()) {
                send_ollama_error(res, {400, "an input is empty", "input"});
                return;
            }
            tokens += ids.size();
            all.push_back(std::move(ids));
        }
        auto vectors = svc.embed_many(all);
        if (!vectors) {
            send_ollama_error(res, {500, vectors.error().message, ""});
            return;
        }
        ojson embeddings = ojson::array();
        for (const auto& v : *vectors) embeddings.push_back(v);
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        res.set_content(dump(ojson{{"model", svc.model_name()},
                                   {"embeddings", embeddings},
                                   {"total_duration", ns},
                                   {"load_duration", 0},
                                   {"prompt_eval_count", tokens}}),
                        "application/json");
    });

    // The older /api/embeddings: one "prompt", one "embedding".
    srv.route("POST", "/api/embeddings", http::Server::Kind::Heavy,
              [&pool](const http::Request& req, http::Response& res) {
                  ojson body;
                  auto held = parse_for_model(pool, req, res, body);
                  if (!held) return;
                  if (!body.contains("prompt") || !body["prompt"].is_string()) {
                      send_ollama_error(res, {400, "'prompt' must be a string", "prompt"});
                      return;
                  }
                  Service& svc = *held;
                  std::vector<int32_t> ids = svc.tokenizer().encode(body["prompt"].get<std::string>(), true, false);
                  if (ids.empty()) {
                      res.set_content(dump(ojson{{"embedding", ojson::array()}}), "application/json");
                      return;
                  }
                  if (static_cast<int64_t>(ids.size()) > svc.embedding_max_tokens())
                      ids.resize(static_cast<size_t>(svc.embedding_max_tokens()));
                  auto v = svc.embed(ids);
                  if (!v) {
                      send_ollama_error(res, {500, v.error().message, ""});
                      return;
                  }
                  res.set_content(dump(ojson{{"embedding", *v}}), "application/json");
              });
}

}  // namespace tf::server
