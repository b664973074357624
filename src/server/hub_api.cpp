#include "server/hub_api.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "engine/chat_prompt.h"
#include "hub/create.h"
#include "hub/pull.h"
#include "hub/store.h"
#include "server/http_util.h"

namespace tf::server {

namespace {

Result<hub::Store> open_store(const StoreAccess& a) {
    return hub::Store::open(a.root);
}

// "model" (Ollama's current field) or "name" (its older one).
std::string model_field(const ojson& body, const char* key = "model") {
    if (auto it = body.find(key); it != body.end() && it->is_string()) return *it;
    if (auto it = body.find("name"); key == std::string("model") && it != body.end() && it->is_string()) return *it;
    return "";
}

bool parse_name(const std::string& text, hub::ModelName& out, http::Response& res) {
    if (text.empty()) {
        send_ollama_error(res, api::bad_request("the request names no model (\"model\")", "model"));
        return false;
    }
    auto n = hub::parse_model_name(text);
    if (!n) {
        send_ollama_error(res, api::bad_request(n.error().message, "model"));
        return false;
    }
    out = *n;
    return true;
}

// A store route's body and the model it names; false when res already holds the 400.
bool named_request(const http::Request& req, http::Response& res, ojson& body, hub::ModelName& name) {
    auto parsed = api::parse_request(req.body);
    if (!parsed) {
        send_ollama_error(res, parsed.error());
        return false;
    }
    body = std::move(*parsed);
    return parse_name(model_field(body), name, res);
}

ojson event_json(const hub::PullEvent& e) {
    ojson j{{"status", e.status}};
    if (!e.digest.empty()) {
        j["digest"] = e.digest;
        j["total"] = e.total;
        j["completed"] = e.completed;
    }
    return j;
}

}  // namespace

ModelCatalog store_catalog(const StoreAccess& access) {
    ModelCatalog c;
    c.resolve = [access](const std::string& name) -> std::optional<ModelSpec> {
        auto n = hub::parse_model_name(name);
        if (!n) return std::nullopt;
        auto store = open_store(access);
        if (!store) return std::nullopt;
        auto m = store->find(*n);
        if (!m || !*m) return std::nullopt;
        auto path = store->resolve(*n);
        if (!path) return std::nullopt;
        return ModelSpec{n->display(),        *path,       (*m)->files[0].digest, (*m)->params_json,
                         (*m)->template_text, (*m)->system};
    };
    c.list = [access]() {
        std::vector<ModelSpec> out;
        auto store = open_store(access);
        if (!store) return out;
        for (const auto& m : store->list()) {
            auto n = hub::parse_model_name(m.name);
            if (!n) continue;
            auto path = store->resolve(*n);
            if (!path) continue;
            out.push_back({n->display(), *path, m.files[0].digest, m.params_json, m.template_text, m.system});
        }
        return out;
    };
    return c;
}

void add_hub_routes(http::Server& srv, ModelPool& pool, const StoreAccess& access) {
    // Long: a thread of its own, admitted like a generation.
    srv.route("POST", "/api/pull", http::Server::Kind::Heavy, [access](const http::Request& req, http::Response& res) {
        auto parsed = api::parse_request(req.body);
        if (!parsed) return send_ollama_error(res, parsed.error());
        const ojson& body = *parsed;
        if (!access.allow_pull)
            return send_ollama_error(
                res, {ErrorKind::Forbidden, "pulling is disabled on this server (start it with --allow-pull)", ""});
        hub::ModelName name;
        if (!parse_name(model_field(body), name, res)) return;
        hub::PullOptions opt;
        opt.insecure = access.insecure_registries || body.value("insecure", ojson(false)) == true;
        auto conn = req.connection;
        opt.http.cancelled = [conn] { return conn->closed(); };
        if (body.value("stream", ojson(true)) == false) {
            auto store = open_store(access);
            if (!store) return send_ollama_error(res, {ErrorKind::Internal, store.error().message, ""});
            auto m = hub::pull(name, *store, opt);
            if (!m) return send_ollama_error(res, {ErrorKind::Upstream, m.error().message, ""});
            res.set_content(dump(ojson{{"status", "success"}}), "application/json");
            return;
        }
        res.set_chunked_content_provider("application/x-ndjson", [access, name, opt](size_t, http::DataSink& sink) {
            auto send = [&](const ojson& j) {
                const std::string line = dump(j) + "\n";
                return sink.write(line.data(), line.size());
            };
            auto store = open_store(access);
            if (!store) {
                send(ojson{{"error", store.error().message}});
                sink.done();
                return true;
            }
            // Progress at most every 100 ms (a multi-GB file would otherwise send a line per read).
            auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
            auto m = hub::pull(name, *store, opt, [&](const hub::PullEvent& e) {
                const auto now = std::chrono::steady_clock::now();
                if (!e.digest.empty() && e.completed < e.total && now - last < std::chrono::milliseconds(100)) return;
                last = now;
                send(event_json(e));
            });
            if (!m) send(ojson{{"error", m.error().message}});
            sink.done();
            return true;
        });
    });

    srv.route("DELETE", "/api/delete", http::Server::Kind::Light,
              [&pool, access](const http::Request& req, http::Response& res) {
                  ojson body;
                  hub::ModelName name;
                  if (!named_request(req, res, body, name)) return;
                  auto store = open_store(access);
                  if (!store) return send_ollama_error(res, {ErrorKind::Internal, store.error().message, ""});
                  auto found = store->find(name);
                  if (!found || !*found)
                      return send_ollama_error(
                          res, {ErrorKind::NotFound, "model '" + name.display() + "' not found", "model"});
                  pool.forget(name.display());
                  auto freed = store->remove(name);
                  if (!freed) return send_ollama_error(res, {ErrorKind::Internal, freed.error().message, ""});
                  res.set_content("{}", "application/json");
              });

    // Blobs for /api/create, as Ollama's client uploads them: HEAD says whether the store has
    // one; POST streams the bytes to disk (never to memory) and lands them only when they hash
    // to the digest in the path.
    srv.route(
        "HEAD", "/api/blobs/", http::Server::Kind::Light,
        [access](const http::Request& req, http::Response& res) {
            auto store = open_store(access);
            const std::string& digest = req.matches[1];
            if (!hub::valid_digest(digest)) {
                res.status = 400;
                return;
            }
            std::error_code ec;
            res.status = store && std::filesystem::exists(store->blob_path(digest), ec) ? 200 : 404;
        },
        true);
    srv.upload_route(
        "POST", "/api/blobs/",
        [access](const http::Request& req, http::Response& res) -> std::string {
            const std::string& digest = req.matches[1];
            if (!hub::valid_digest(digest)) {
                send_ollama_error(res, api::bad_request("not a sha256 digest: '" + digest + "'", "digest"));
                return "";
            }
            auto store = open_store(access);
            if (!store) {
                send_ollama_error(res, {ErrorKind::Internal, store.error().message, ""});
                return "";
            }
            const std::string length = req.get_header_value("Content-Length");
            const uint64_t size = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
            if (size + (uint64_t(64) << 20) > store->free_bytes()) {
                send_ollama_error(res, {ErrorKind::TooLarge,
                                        "the model store has " + std::to_string(store->free_bytes() >> 20) +
                                            " MiB free; the upload is " + std::to_string(size >> 20) + " MiB",
                                        ""});
                return "";
            }
            return store->upload_path();
        },
        [access](const http::Request& req, http::Response& res) {
            if (req.body_file.empty()) return send_ollama_error(res, api::bad_request("the upload has no body", ""));
            auto store = open_store(access);
            if (!store) return send_ollama_error(res, {ErrorKind::Internal, store.error().message, ""});
            if (auto st = store->adopt_blob(req.body_file, req.matches[1]); !st)
                return send_ollama_error(res, api::bad_request(st.error().message, "digest"));
            res.status = 201;
        },
        true);

    srv.route(
        "POST", "/api/create", http::Server::Kind::Light,
        [&pool, access](const http::Request& req, http::Response& res) {
            ojson body;
            hub::ModelName name;
            if (!named_request(req, res, body, name)) return;
            for (const char* unsupported : {"quantize", "adapters", "messages"})
                if (body.contains(unsupported) && !body[unsupported].is_null())
                    return send_ollama_error(
                        res, api::bad_request(std::string("\"") + unsupported +
                                                  "\" is not supported by this server's /api/create (quantize "
                                                  "with `terraferma quantize`)",
                                              unsupported));
            hub::CreateSpec spec;
            auto text = [&](const char* key, std::optional<std::string>& into) -> bool {
                auto it = body.find(key);
                if (it == body.end() || it->is_null()) return true;
                if (it->is_string()) {
                    into = it->get<std::string>();
                    return true;
                }
                if (std::string(key) == "license" && it->is_array()) {  // Ollama takes one or several
                    std::string joined;
                    for (const auto& l : *it) {
                        if (!l.is_string()) return false;
                        joined += (joined.empty() ? "" : "\n\n") + l.get<std::string>();
                    }
                    into = joined;
                    return true;
                }
                return false;
            };
            for (const char* key : {"template", "system", "license"}) {
                std::optional<std::string>& into = std::string(key) == "template" ? spec.template_text
                                                   : std::string(key) == "system" ? spec.system
                                                                                  : spec.license;
                if (!text(key, into))
                    return send_ollama_error(res, api::bad_request(std::string(key) + ": expected a string", key));
            }
            if (spec.template_text) {
                if (auto st = engine::check_chat_template(*spec.template_text); !st)
                    return send_ollama_error(res, api::bad_request("template: " + st.error().message, "template"));
            }
            if (auto it = body.find("from"); it != body.end() && !it->is_null()) {
                if (!it->is_string())
                    return send_ollama_error(res, api::bad_request("from: expected a model name", "from"));
                spec.from = it->get<std::string>();
            }
            if (auto it = body.find("files"); it != body.end() && !it->is_null()) {
                if (!it->is_object())
                    return send_ollama_error(
                        res, api::bad_request("files: expected {\"NAME.gguf\": \"sha256:…\"}", "files"));
                for (auto f = it->begin(); f != it->end(); ++f) {
                    if (!f->is_string())
                        return send_ollama_error(res, api::bad_request("files: each value is a digest", "files"));
                    spec.files.emplace_back(f.key(), f->get<std::string>());
                }
            }
            if (auto it = body.find("parameters"); it != body.end() && !it->is_null()) {
                if (!it->is_object())
                    return send_ollama_error(res, api::bad_request("parameters: expected an object", "parameters"));
                spec.parameters_json = it->dump();
            }
            auto store = open_store(access);
            if (!store) return send_ollama_error(res, {ErrorKind::Internal, store.error().message, ""});
            std::vector<std::string> statuses;
            auto made = hub::create_model(*store, name, spec, [&](const std::string& s) { statuses.push_back(s); });
            if (!made) return send_ollama_error(res, {made.error().kind, made.error().message, ""});
            pool.forget(name.display());  // a loaded model of that name is stale now
            if (body.value("stream", ojson(true)) == false) {
                res.set_content(dump(ojson{{"status", "success"}}), "application/json");
                return;
            }
            std::string lines;
            for (const auto& st : statuses) lines += dump(ojson{{"status", st}}) + "\n";
            lines += dump(ojson{{"status", "success"}}) + "\n";
            res.set_content(lines, "application/x-ndjson");
        });

    srv.route("POST", "/api/copy", http::Server::Kind::Light, [access](const http::Request& req, http::Response& res) {
        auto parsed = api::parse_request(req.body);
        if (!parsed) return send_ollama_error(res, parsed.error());
        const ojson& body = *parsed;
        hub::ModelName from, to;
        if (!parse_name(model_field(body, "source"), from, res)) return;
        if (!parse_name(model_field(body, "destination"), to, res)) return;
        auto store = open_store(access);
        if (!store) return send_ollama_error(res, {ErrorKind::Internal, store.error().message, ""});
        auto found = store->find(from);
        if (!found || !*found)
            return send_ollama_error(res, {ErrorKind::NotFound, "model '" + from.display() + "' not found", "model"});
        if (auto st = store->copy(from, to); !st)
            return send_ollama_error(res, {ErrorKind::Internal, st.error().message, ""});
        res.set_content("{}", "application/json");
    });
}

}  // namespace tf::server
