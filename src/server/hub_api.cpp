#include "server/hub_api.h"

#include <chrono>
#include <mutex>

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
        return ModelSpec{n->display(), *path, (*m)->files[0].digest, (*m)->params_json, (*m)->template_text};
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
            out.push_back({n->display(), *path, m.files[0].digest, m.params_json, m.template_text});
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
                  auto parsed = api::parse_request(req.body);
                  if (!parsed) return send_ollama_error(res, parsed.error());
                  const ojson& body = *parsed;
                  hub::ModelName name;
                  if (!parse_name(model_field(body), name, res)) return;
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
