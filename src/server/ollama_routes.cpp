// /api/chat, /api/generate, /api/embed(dings), /api/tags, /api/show, /api/ps, /api/version on
// HTTP: the protocol's mapping is api/ollama_*; here are the routes, model loading and unloading,
// and the newline-delimited JSON streams (Ollama's default).
#include <sys/stat.h>

#include <chrono>
#include <ctime>

#include "api/affinity.h"
#include "api/job_wait.h"
#include "api/ollama_request.h"
#include "api/ollama_response.h"
#include "gguf/file.h"
#include "server/http_util.h"
#include "server/routes.h"

namespace tf::server {

namespace {

namespace ol = api::ollama;

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
// absent: the server's default.
api::Result<std::optional<int>> keep_alive_field(const ojson& body) {
    auto it = body.find("keep_alive");
    if (it == body.end() || it->is_null()) return std::optional<int>{};
    if (it->is_number()) return std::optional<int>(static_cast<int>(std::max(-1.0, std::min(it->get<double>(), 1e9))));
    if (it->is_string()) {
        if (auto k = parse_duration_seconds(it->get<std::string>())) return std::optional<int>(*k);
    }
    return api::bad_request(
        "'keep_alive' must be a number of seconds or a duration such as \"5m\" (negative: keep loaded)", "keep_alive");
}

// A request's JSON body and its model, loaded; null after answering the error.
std::shared_ptr<Service> parse_for_model(ModelPool& pool, const http::Request& req, http::Response& res, ojson& body,
                                         std::optional<int>* keep_out = nullptr) {
    auto parsed = api::parse_request(req.body);
    if (!parsed) {
        send_ollama_error(res, parsed.error());
        return nullptr;
    }
    body = std::move(*parsed);
    if (const std::string prefix = api::prefix_affinity(body); !prefix.empty())
        res.set_header("x-terraferma-prefix", prefix);
    auto keep = keep_alive_field(body);
    if (!keep) {
        send_ollama_error(res, keep.error());
        return nullptr;
    }
    if (keep_out != nullptr) *keep_out = *keep;
    std::string name = body.value("model", ojson("")).is_string() ? body.value("model", "") : "";
    if (name.empty() && body.contains("name") && body["name"].is_string()) name = body["name"].get<std::string>();
    auto svc = pool.acquire(name, *keep);
    if (!svc) {
        api::Error e = svc.error();
        if (e.kind == ErrorKind::NotFound) e.message = "model '" + name + "' not found";
        send_ollama_error(res, e);
        return nullptr;
    }
    return *svc;
}

// A registry's parameters layer ({"stop": ["…"], "temperature": 0.7}) as /api/show gives it:
// Modelfile lines, one per value ("stop \"…\"").
std::string modelfile_parameters(const std::string& params_json) {
    const ojson p = ojson::parse(params_json, nullptr, false);
    if (!p.is_object()) return "";
    std::string out;
    for (auto it = p.begin(); it != p.end(); ++it) {
        for (const ojson& v : it->is_array() ? *it : ojson::array({*it})) out += it.key() + " " + dump(v) + "\n";
    }
    if (!out.empty()) out.pop_back();
    return out;
}

// The same for /api/chat and /api/generate, with the request's keep_alive and a seed for a
// request that names none.
std::shared_ptr<Service> parse_for_generation(ModelPool& pool, const http::Request& req, http::Response& res,
                                              ojson& body, std::optional<int>& keep) {
    auto held = parse_for_model(pool, req, res, body, &keep);
    if (held) api::ensure_ollama_seed(body);
    return held;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Ollama answers a request with nothing to generate by loading the model — or, with
// keep_alive 0, unloading it.
void load_or_unload(ModelPool& pool, std::shared_ptr<Service> held, std::optional<int> keep, http::Response& res,
                    const ojson& empty) {
    const std::string name = held->model_name();
    held.reset();
    const bool gone = keep && *keep == 0 && pool.unload(name);
    ojson answer = {{"model", name}, {"created_at", api::iso_now()}};
    answer.update(empty);
    answer["done"] = true;
    answer["done_reason"] = gone ? "unload" : "load";
    res.set_content(dump(answer), "application/json");
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
        const auto deadline = api::deadline_after(timeout_s);
        const engine::JobEvent e = api::collect(*job, text, deadline, &lps);
        if (!e.error.empty()) return send_ollama_error(res, {ErrorKind::Internal, e.error, ""});
        ojson j = finish ? finish(text) : piece(text);
        if (logprobs_of != nullptr) j["logprobs"] = api::logprob_entries(*logprobs_of, lps);
        j.update(ol::final_fields(e));
        res.set_content(dump(j), "application/json");
        return;
    }
    res.set_chunked_content_provider("application/x-ndjson", [=](size_t, http::DataSink& sink) {
        (void)keep;
        auto send = [&](const ojson& j) {
            const std::string line = dump(j) + "\n";
            return sink.write(line.data(), line.size());
        };
        const auto deadline = api::deadline_after(timeout_s);
        std::string held;
        std::vector<sampling::TokenLogprob> held_lps;
        while (true) {
            const engine::JobEvent e = api::next_event(*job, deadline, [&] { return !sink.is_writable(); });
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
                    j["logprobs"] = api::logprob_entries(*logprobs_of, finish ? held_lps : e.logprobs);
                }
                if (e.done) {
                    j.update(ol::final_fields(e));
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

// Queues a generation and answers it; the client leaving frees its slot at once.
void run(const http::Request& req, http::Response& res, std::shared_ptr<Service> held, const ojson& body,
         api::Result<engine::GenerationRequest> r, int timeout_s, std::function<ojson(const std::string&)> piece,
         std::function<ojson(const std::string&)> finish) {
    if (!r) return send_ollama_error(res, r.error());
    auto job = held->submit(std::move(*r));
    if (!job) return send_ollama_error(res, job.error());
    const tok::Tokenizer* lp = body.value("logprobs", ojson(false)) == true ? &held->tokenizer() : nullptr;
    req.connection->on_close([j = *job] { j->cancel(); });
    answer(res, held, *job, ol::streamed(body), timeout_s, std::move(piece), std::move(finish), lp);
}

}  // namespace

void add_ollama_routes(http::Server& srv, ModelPool& pool, const HttpOptions& opt) {
    srv.route("POST", "/api/chat", http::Server::Kind::Heavy,
              [&pool, &opt](const http::Request& req, http::Response& res) {
                  ojson body;
                  std::optional<int> keep;
                  auto held = parse_for_generation(pool, req, res, body, keep);
                  if (!held) return;
                  if (body.value("messages", ojson::array()).empty()) {
                      return load_or_unload(pool, std::move(held), keep, res,
                                            ojson{{"message", {{"role", "assistant"}, {"content", ""}}}});
                  }
                  const std::string model = held->model_name();
                  const engine::ToolSyntax syntax = held->tool_syntax();
                  std::function<ojson(const std::string&)> finish;
                  if (api::request_tools(body) != nullptr || syntax == engine::ToolSyntax::Harmony)
                      finish = [=](const std::string& text) { return ol::chat_parsed(model, syntax, text); };
                  run(
                      req, res, held, body, ol::chat_request(*held, body), opt.request_timeout_s,
                      [=](const std::string& text) { return ol::chat_piece(model, text); }, finish);
              });

    srv.route("POST", "/api/generate", http::Server::Kind::Heavy,
              [&pool, &opt](const http::Request& req, http::Response& res) {
                  ojson body;
                  std::optional<int> keep;
                  auto held = parse_for_generation(pool, req, res, body, keep);
                  if (!held) return;
                  const ojson prompt = body.value("prompt", ojson(nullptr));
                  if (!prompt.is_null() && !prompt.is_string())
                      return send_ollama_error(res, api::bad_request("'prompt' must be a string", "prompt"));
                  if (prompt.is_null() || prompt.get_ref<const std::string&>().empty())
                      return load_or_unload(pool, std::move(held), keep, res, ojson{{"response", ""}});
                  const std::string model = held->model_name();
                  run(
                      req, res, held, body, ol::generate_request(*held, body), opt.request_timeout_s,
                      [=](const std::string& text) { return ol::generate_piece(model, text); }, nullptr);
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
        // What the registry gave with the model (Ollama clients read its Go template), else
        // the GGUF's own chat template.
        std::string parameters, tmpl = file.get_string("tokenizer.chat_template").value_or("");
        for (const ModelSpec& spec : pool.specs()) {
            if (spec.name != svc.model_name()) continue;
            parameters = modelfile_parameters(spec.params_json);
            if (!spec.template_text.empty()) tmpl = spec.template_text;
        }
        ojson shown{{"modelfile", ""},         {"parameters", parameters},
                    {"template", tmpl},        {"license", file.get_string("general.license").value_or("")},
                    {"details", details(svc)}, {"model_info", info}};
        if (!svc.defaults().system.empty()) shown["system"] = svc.defaults().system;
        res.set_content(dump(shown), "application/json");
    });

    srv.route("POST", "/api/embed", http::Server::Kind::Heavy, [&pool](const http::Request& req, http::Response& res) {
        const auto t0 = std::chrono::steady_clock::now();
        ojson body;
        auto held = parse_for_model(pool, req, res, body);
        if (held) send(res, ol::embed(*held, body, t0));
    });
    srv.route("POST", "/api/embeddings", http::Server::Kind::Heavy,
              [&pool](const http::Request& req, http::Response& res) {
                  ojson body;
                  auto held = parse_for_model(pool, req, res, body);
                  if (held) send(res, ol::embedding(*held, body));
              });
}

}  // namespace tf::server
