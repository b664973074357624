#include "server/http_server.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>

#include "server/http/server.h"
#include "server/http_util.h"
#include "server/routes.h"

namespace tf::server {

namespace {

uint64_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long long size = 0, resident = 0;
    const int n = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// The Prometheus text exposition: per-model series labelled model="…", summed over the loads
// of that model since the server started.
std::string metrics_text(ModelPool& pool) {
    const auto all = pool.stats();
    std::string m;
    auto family = [&](const char* name, const char* type, const char* help, auto value) {
        m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
        for (const auto& s : all)
            m += std::string(name) + "{model=\"" + s.name + "\"} " + std::to_string(value(s)) + "\n";
    };
    using S = ModelPool::ModelStats;
    family("terraferma_requests_total", "counter", "Generation requests accepted",
           [](const S& s) { return s.stats.requests; });
    family("terraferma_prompt_tokens_total", "counter", "Prompt tokens evaluated",
           [](const S& s) { return s.stats.prompt_tokens; });
    family("terraferma_prefix_cache_tokens_total", "counter", "Prompt tokens reused from cached KV entries",
           [](const S& s) { return s.stats.reused_tokens; });
    family("terraferma_generated_tokens_total", "counter", "Tokens generated",
           [](const S& s) { return s.stats.generated_tokens; });
    family("terraferma_prefix_cache_hits_total", "counter",
           "Requests that started from a prefix cache entry (beyond the slots)",
           [](const S& s) { return s.stats.cache_hits; });
    family("terraferma_prefix_cache_evictions_total", "counter", "Prefix cache entries evicted",
           [](const S& s) { return s.stats.cache_evictions; });
    family("terraferma_prefix_cache_entries", "gauge", "Prefix cache entries holding tokens",
           [](const S& s) { return s.stats.cache_entries; });
    family("terraferma_prefix_cache_hit_ratio", "gauge", "Share of prompt tokens served from cached KV entries",
           [](const S& s) {
               const double total = static_cast<double>(s.stats.prompt_tokens + s.stats.reused_tokens);
               return total > 0 ? static_cast<double>(s.stats.reused_tokens) / total : 0.0;
           });
    family("terraferma_active_requests", "gauge", "Requests being generated",
           [](const S& s) { return s.stats.active; });
    family("terraferma_queued_requests", "gauge", "Requests waiting for a slot",
           [](const S& s) { return s.stats.queued; });
    family("terraferma_model_loaded", "gauge", "1 while the model is loaded",
           [](const S& s) { return s.loaded ? 1 : 0; });
    family("terraferma_kv_cache_bytes", "gauge", "KV cache allocated",
           [](const S& s) { return s.loaded ? s.stats.kv_bytes : 0; });
    family("terraferma_kv_cache_free_bytes", "gauge", "KV cache not holding any sequence",
           [](const S& s) { return s.loaded ? s.stats.kv_free_bytes : 0; });
    auto histogram = [&](const char* name, const char* help, Histogram engine::SchedulerStats::*h) {
        m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
        for (const auto& s : all) m += (s.stats.*h).prometheus(name, "model=\"" + s.name + "\"");
    };
    histogram("terraferma_time_to_first_token_seconds", "Seconds from a request's arrival to its first token",
              &engine::SchedulerStats::time_to_first_token);
    histogram("terraferma_inter_token_latency_seconds", "Seconds between consecutive tokens of a request",
              &engine::SchedulerStats::inter_token);
    m += "# HELP terraferma_resident_memory_bytes Resident memory of the server process\n# TYPE "
         "terraferma_resident_memory_bytes gauge\n";
    m += "terraferma_resident_memory_bytes " + std::to_string(resident_bytes()) + "\n";
    return m;
}

bool is_loopback_name(const std::string& h) {
    return h == "localhost" || h == "127.0.0.1" || h == "::1" ||
           (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0) || h.rfind("127.", 0) == 0;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// "host:port", "[::1]:8080", "example.com" → the host, lower case, without brackets.
std::string host_of(const std::string& header) {
    std::string h = header;
    if (!h.empty() && h[0] == '[') {
        const size_t close = h.find(']');
        return lower(h.substr(1, close == std::string::npos ? std::string::npos : close - 1));
    }
    const size_t colon = h.find(':');
    if (colon != std::string::npos && h.find(':', colon + 1) == std::string::npos) h.resize(colon);
    return lower(h);
}

// "https://app.example:3000" → "app.example"; "" for anything else ("null" included).
std::string origin_host(const std::string& origin) {
    const size_t scheme = origin.find("://");
    if (scheme == std::string::npos) return "";
    std::string rest = origin.substr(scheme + 3);
    if (const size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    return host_of(rest);
}

}  // namespace

bool host_allowed(const std::string& header, const HttpOptions& o) {
    const std::string h = host_of(header);
    if (h.empty()) return false;
    if (is_loopback_name(h)) return true;
    const std::string bound = lower(o.host);
    const bool bound_loopback = is_loopback_name(bound);
    if (h == bound && bound != "0.0.0.0" && bound != "::") return true;
    if (o.allowed_hosts.empty()) return !bound_loopback;
    for (const auto& a : o.allowed_hosts) {
        const std::string al = lower(a);
        if (al == "*" || al == h) return true;
        if (!al.empty() && al[0] == '.' && h.size() > al.size() && h.compare(h.size() - al.size(), al.size(), al) == 0)
            return true;
    }
    return false;
}

namespace {
http::Limits limits_of(const HttpOptions& o) {
    http::Limits l;
    l.max_body = o.max_body;
    l.workers = static_cast<size_t>(std::max(4, o.http_threads));
    l.max_inflight = std::max<size_t>(1, o.max_inflight);
    l.slots = std::max<size_t>(1, o.slots);
    l.header_timeout_s = o.header_timeout_s;
    l.idle_timeout_s = o.idle_timeout_s;
    l.max_connections = o.max_connections;
    return l;
}
}  // namespace

HttpServer::HttpServer(ModelPool& models, const HttpOptions& options)
    : models_(models), o_(options), http_(std::make_unique<http::Server>(limits_of(options))) {
    http::Server& h = *http_;
    auto error_writer = [](const http::Request& req, http::Response& res, int status, const std::string& message) {
        send_status_error(req, res, status, message);
    };
    h.set_error_writer(error_writer);
    // As soon as the headers are in, before the body is read: the Host must name this server
    // (DNS rebinding), a state-changing request from a web page must come from an allowed
    // origin (a cross-site text/plain POST would start a generation), CORS only for
    // --cors-origin, then the API key (everything but /health).
    const HttpOptions opts = o_;
    h.set_gate([opts, error_writer](const http::Request& req, http::Response& res) {
        auto refuse = [&](int status, const std::string& message) {
            error_writer(req, res, status, message);
            return true;
        };
        const std::string host = req.get_header_value("Host");
        if (!host.empty() && !host_allowed(host, opts))
            return refuse(403, "host '" + host + "' is not allowed (serve --allowed-hosts adds names)");
        const std::string origin = req.get_header_value("Origin");
        const bool cors =
            !origin.empty() && !opts.cors_origin.empty() && (opts.cors_origin == "*" || origin == opts.cors_origin);
        if (cors) {  // kept on the route's response (the gate and the route fill the same one)
            res.set_header("Access-Control-Allow-Origin", opts.cors_origin == "*" ? "*" : origin);
            res.set_header("Vary", "Origin");
        }
        if (req.method == "OPTIONS") {
            if (!cors)
                return refuse(403, "cross-origin requests are not allowed (serve --cors-origin ORIGIN allows one)");
            res.status = 204;
            res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
            res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
            res.set_header("Access-Control-Max-Age", "600");
            return true;
        }
        const bool changes_state = req.method != "GET" && req.method != "HEAD";
        if (changes_state && !origin.empty() && !cors && !host_allowed(origin_host(origin), opts)) {
            return refuse(403, "origin '" + origin + "' may not call this API (serve --cors-origin ORIGIN allows one)");
        }
        if (opts.api_key.empty() || req.path == "/health" || req.path == "/ready") return false;
        if (req.get_header_value("Authorization") == "Bearer " + opts.api_key) return false;
        return refuse(401, req.path.rfind("/api/", 0) == 0
                               ? "missing or wrong API key"
                               : "missing or wrong API key (send 'Authorization: Bearer KEY')");
    });

    // /health on the I/O thread, taking no lock: never behind generation work or a model load.
    // /metrics reads the models' state under their locks (held while a model loads): a worker's.
    h.route("GET", "/health", http::Server::Kind::Inline, [](const http::Request&, http::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    // /ready, for load balancers: the model is loaded (serving starts after the first one) and
    // the server is not draining. /health stays 200 while draining: the process is alive.
    http::Server* srv = http_.get();
    h.route("GET", "/ready", http::Server::Kind::Inline, [srv](const http::Request&, http::Response& res) {
        if (srv->draining()) {
            res.status = 503;
            res.set_header("Retry-After", "5");
            res.set_content(R"({"status":"draining"})", "application/json");
            return;
        }
        res.set_content(R"({"status":"ready"})", "application/json");
    });
    h.route("GET", "/", http::Server::Kind::Inline, [](const http::Request&, http::Response& res) {
        res.set_content("Terraferma is running\n", "text/plain");
    });
    h.route("GET", "/metrics", http::Server::Kind::Light, [this](const http::Request&, http::Response& res) {
        res.set_content(metrics_text(models_), "text/plain; version=0.0.4");
    });
    add_openai_routes(h, models_, o_);
    add_ollama_routes(h, models_, o_);
    if (o_.serve_store) add_hub_routes(h, models_, o_.store);
}
HttpServer::~HttpServer() = default;

Result<int> HttpServer::bind() {
    return http_->bind(o_.host, o_.port);
}

void HttpServer::run() {
    http_->run();
}

void HttpServer::stop() {
    http_->stop();
}

void HttpServer::drain() {
    http_->drain();
}

size_t HttpServer::inflight() const {
    return http_->inflight();
}

}  // namespace tf::server
