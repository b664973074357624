#include "server/http_server.h"

#include <httplib.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>

#include "server/api.h"
#include "server/http_util.h"

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
        for (const auto& s : all) m += std::string(name) + "{model=\"" + s.name + "\"} " + std::to_string(value(s)) + "\n";
    };
    using S = ModelPool::ModelStats;
    family("terraferma_requests_total", "counter", "Generation requests accepted", [](const S& s) { return s.stats.requests; });
    family("terraferma_prompt_tokens_total", "counter", "Prompt tokens evaluated", [](const S& s) { return s.stats.prompt_tokens; });
    family("terraferma_prefix_cache_tokens_total", "counter", "Prompt tokens reused from cached KV entries", [](const S& s) { return s.stats.reused_tokens; });
    family("terraferma_generated_tokens_total", "counter", "Tokens generated", [](const S& s) { return s.stats.generated_tokens; });
    family("terraferma_prefix_cache_hits_total", "counter", "Requests that started from a prefix cache entry (beyond the slots)",
           [](const S& s) { return s.stats.cache_hits; });
    family("terraferma_prefix_cache_evictions_total", "counter", "Prefix cache entries evicted", [](const S& s) { return s.stats.cache_evictions; });
    family("terraferma_prefix_cache_entries", "gauge", "Prefix cache entries holding tokens", [](const S& s) { return s.stats.cache_entries; });
    family("terraferma_prefix_cache_hit_ratio", "gauge", "Share of prompt tokens served from cached KV entries", [](const S& s) {
        const double total = static_cast<double>(s.stats.prompt_tokens + s.stats.reused_tokens);
        return total > 0 ? static_cast<double>(s.stats.reused_tokens) / total : 0.0;
    });
    family("terraferma_active_requests", "gauge", "Requests being generated", [](const S& s) { return s.stats.active; });
    family("terraferma_queued_requests", "gauge", "Requests waiting for a slot", [](const S& s) { return s.stats.queued; });
    family("terraferma_model_loaded", "gauge", "1 while the model is loaded", [](const S& s) { return s.loaded ? 1 : 0; });
    family("terraferma_kv_cache_bytes", "gauge", "KV cache allocated", [](const S& s) { return s.loaded ? s.stats.kv_bytes : 0; });
    family("terraferma_kv_cache_free_bytes", "gauge", "KV cache not holding any sequence", [](const S& s) { return s.loaded ? s.stats.kv_free_bytes : 0; });
    auto histogram = [&](const char* name, const char* help, Histogram engine::SchedulerStats::*h) {
        m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
        for (const auto& s : all) m += (s.stats.*h).prometheus(name, "model=\"" + s.name + "\"");
    };
    histogram("terraferma_time_to_first_token_seconds", "Seconds from a request's arrival to its first token",
              &engine::SchedulerStats::time_to_first_token);
    histogram("terraferma_inter_token_latency_seconds", "Seconds between consecutive tokens of a request", &engine::SchedulerStats::inter_token);
    m += "# HELP terraferma_resident_memory_bytes Resident memory of the server process\n# TYPE terraferma_resident_memory_bytes gauge\n";
    m += "terraferma_resident_memory_bytes " + std::to_string(resident_bytes()) + "\n";
    return m;
}

bool is_loopback_name(const std::string& h) {
    return h == "localhost" || h == "127.0.0.1" || h == "::1" || (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0) ||
           h.rfind("127.", 0) == 0;
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
        if (!al.empty() && al[0] == '.' && h.size() > al.size() && h.compare(h.size() - al.size(), al.size(), al) == 0) return true;
    }
    return false;
}

HttpServer::HttpServer(ModelPool& models, const HttpOptions& options)
    : models_(models), o_(options), http_(std::make_unique<httplib::Server>()) {
    httplib::Server& h = *http_;
    const int threads = std::max(4, o_.http_threads);
    h.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    h.set_payload_max_length(o_.max_body);
    h.set_read_timeout(30, 0);
    h.set_write_timeout(30, 0);
    h.set_keep_alive_max_count(1000);
    // SO_REUSEADDR only: httplib's default SO_REUSEPORT let a second server bind the same port
    // and the kernel split the connections between the two.
    h.set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
    });

    // Before any route: the Host must name this server (DNS rebinding), a state-changing request
    // from a web page must come from an allowed origin (a cross-site text/plain POST would start
    // a generation), CORS only for --cors-origin, then the API key (everything but /health).
    const HttpOptions opts = o_;
    auto refuse = [](const httplib::Request& req, httplib::Response& res, int status, const std::string& message) {
        if (req.path.rfind("/api/", 0) == 0) send_ollama_error(res, {status, message, ""});
        else send_openai_error(res, {status, message, ""});
        return httplib::Server::HandlerResponse::Handled;
    };
    h.set_pre_routing_handler([opts, refuse](const httplib::Request& req, httplib::Response& res) {
        const std::string host = req.get_header_value("Host");
        if (!host.empty() && !host_allowed(host, opts)) {
            return refuse(req, res, 403, "host '" + host + "' is not allowed (serve --allowed-hosts adds names)");
        }
        const std::string origin = req.get_header_value("Origin");
        const bool cors = !origin.empty() && !opts.cors_origin.empty() && (opts.cors_origin == "*" || origin == opts.cors_origin);
        if (cors) {
            res.set_header("Access-Control-Allow-Origin", opts.cors_origin == "*" ? "*" : origin);
            res.set_header("Vary", "Origin");
        }
        if (req.method == "OPTIONS") {
            if (!cors) return refuse(req, res, 403, "cross-origin requests are not allowed (serve --cors-origin ORIGIN allows one)");
            res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
            res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
            res.set_header("Access-Control-Max-Age", "600");
            res.status = 204;
            return httplib::Server::HandlerResponse::Handled;
        }
        const bool changes_state = req.method != "GET" && req.method != "HEAD";
        if (changes_state && !origin.empty() && !cors && !host_allowed(origin_host(origin), opts)) {
            return refuse(req, res, 403, "origin '" + origin + "' may not call this API (serve --cors-origin ORIGIN allows one)");
        }
        if (opts.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
        if (req.get_header_value("Authorization") == "Bearer " + opts.api_key) return httplib::Server::HandlerResponse::Unhandled;
        return refuse(req, res, 401, req.path.rfind("/api/", 0) == 0 ? "missing or wrong API key" : "missing or wrong API key (send 'Authorization: Bearer KEY')");
    });
    h.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        const int status = res.status;
        std::string message = status == 404 ? "no such endpoint: " + req.method + " " + req.path
                              : status == 413 ? "the request body is too large"
                                              : "HTTP error " + std::to_string(status);
        if (req.path.rfind("/api/", 0) == 0) send_ollama_error(res, {status, message, ""});
        else send_openai_error(res, {status, message, ""});
    });
    h.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        send_openai_error(res, {500, what, ""});
    });

    h.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    h.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("Terraferma is running\n", "text/plain"); });
    h.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_text(models_), "text/plain; version=0.0.4");
    });
    add_openai_routes(h, models_, o_);
    add_ollama_routes(h, models_, o_);
}
HttpServer::~HttpServer() = default;

Result<int> HttpServer::bind() {
    const int port = o_.port == 0 ? http_->bind_to_any_port(o_.host) : (http_->bind_to_port(o_.host, o_.port) ? o_.port : -1);
    if (port <= 0) return Error{"cannot listen on " + o_.host + ":" + std::to_string(o_.port) + " (in use, or not an address of this machine)"};
    return port;
}

void HttpServer::run() { http_->listen_after_bind(); }

void HttpServer::stop() { http_->stop(); }

}  // namespace tf::server
