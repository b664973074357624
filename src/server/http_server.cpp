#include "server/http_server.h"

#include <httplib.h>

#include "server/api.h"
#include "server/http_util.h"

namespace tf::server {

HttpServer::HttpServer(Service& service, const HttpOptions& options)
    : service_(service), o_(options), http_(std::make_unique<httplib::Server>()) {
    httplib::Server& h = *http_;
    const int threads = std::max(4, o_.http_threads);
    h.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    h.set_payload_max_length(o_.max_body);
    h.set_read_timeout(30, 0);
    h.set_write_timeout(30, 0);
    h.set_keep_alive_max_count(1000);

    // Authentication (when configured) for everything but the health probe.
    const std::string key = o_.api_key;
    h.set_pre_routing_handler([key](const httplib::Request& req, httplib::Response& res) {
        if (key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
        if (req.get_header_value("Authorization") == "Bearer " + key) return httplib::Server::HandlerResponse::Unhandled;
        if (req.path.rfind("/api/", 0) == 0) send_ollama_error(res, {401, "missing or wrong API key", ""});
        else send_openai_error(res, {401, "missing or wrong API key (send 'Authorization: Bearer KEY')", ""});
        return httplib::Server::HandlerResponse::Handled;
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
        const engine::SchedulerStats s = service_.scheduler().stats();
        std::string m;
        auto line = [&](const char* name, const char* type, const char* help, double v) {
            m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + std::to_string(v) + "\n";
        };
        line("terraferma_requests_total", "counter", "Generation requests accepted", static_cast<double>(s.requests));
        line("terraferma_prompt_tokens_total", "counter", "Prompt tokens evaluated", static_cast<double>(s.prompt_tokens));
        line("terraferma_prefix_cache_tokens_total", "counter", "Prompt tokens reused from the cache", static_cast<double>(s.reused_tokens));
        line("terraferma_generated_tokens_total", "counter", "Tokens generated", static_cast<double>(s.generated_tokens));
        line("terraferma_active_requests", "gauge", "Requests being generated", s.active);
        line("terraferma_queued_requests", "gauge", "Requests waiting for a slot", s.queued);
        const double total = static_cast<double>(s.prompt_tokens + s.reused_tokens);
        line("terraferma_prefix_cache_hit_ratio", "gauge", "Share of prompt tokens served from the cache",
             total > 0 ? static_cast<double>(s.reused_tokens) / total : 0.0);
        res.set_content(m, "text/plain; version=0.0.4");
    });
    add_openai_routes(h, service_, o_);
    add_ollama_routes(h, service_, o_);
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
