// /v1/chat/completions, /v1/completions and /v1/embeddings for a route's public name: the
// router decides which tier answers; here are its local tiers (the loaded models, with their
// queue and context) and the HTTP side —
// the x-terraferma-route header, whole answers, and streams (a remote tier's passed through, a
// local tier's as it is generated, or — when it had to pass a check first — as chunks once it
// passed).
#include <chrono>
#include <map>
#include <mutex>

#include "api/openai_answer.h"
#include "api/openai_request.h"
#include "api/openai_response.h"
#include "server/http_util.h"
#include "server/routes.h"

namespace tf::server {

namespace {

namespace oa = api::openai;

class PoolTiers : public router::LocalTiers {
  public:
    PoolTiers(ModelPool& pool, int timeout_s) : pool_(pool), timeout_s_(timeout_s) {}

    State state(router::Api api, const std::string& model, const ojson& request) override {
        State s;
        auto svc = pool_.acquire(model, std::nullopt);
        if (!svc) return s;  // complete() reports why
        const auto& o = (*svc)->options().scheduler;
        s.context = o.n_ctx_per_slot;
        Result<std::vector<int32_t>, api::Error> tokens = api::bad_request("no prompt");
        if (api == router::Api::Chat && request.contains("messages")) {
            tokens = (*svc)->render(request["messages"], api::request_tools(request));
        } else if (api == router::Api::Completion && request.contains("prompt") && request["prompt"].is_string()) {
            tokens = (*svc)->tokenizer().encode(request["prompt"].get<std::string>(), true);
        }
        {
            if (tokens) {
                s.prompt_tokens = static_cast<int>(tokens->size());
                // Room for at least one generated token, or all the request asks for.
                int want = 1;
                for (const char* k : {"max_completion_tokens", "max_tokens"})
                    if (request.contains(k) && request[k].is_number_integer()) want = request[k].get<int>();
                s.fits = s.prompt_tokens + std::max(want, 1) <= s.context;
            }
        }
        const engine::SchedulerStats st = (*svc)->scheduler().stats();
        // Busy slots and the queue ahead, at the pace this model's routed answers have taken
        // (a second until one has been measured).
        if (st.active >= o.n_slots) s.expected_wait_ms = (st.queued + 1) * mean_ms(model) / std::max(o.n_slots, 1);
        return s;
    }

    router::TierReply complete(router::Api api, const std::string& model, const ojson& request) override {
        auto svc = pool_.acquire(model, std::nullopt);
        if (!svc) {
            const api::Reply r = oa::failure(svc.error());
            return {r.status, r.body};
        }
        const auto t0 = std::chrono::steady_clock::now();
        const api::Reply r = api == router::Api::Chat         ? oa::chat_completion(**svc, request, timeout_s_)
                             : api == router::Api::Completion ? oa::completion(**svc, request, timeout_s_)
                                                              : oa::embeddings(**svc, request);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (r.status == 200) {
            std::lock_guard<std::mutex> lock(mu_);
            auto [it, fresh] = pace_.try_emplace(model, ms);
            if (!fresh) it->second = 0.8 * it->second + 0.2 * ms;
        }
        return {r.status, r.body};
    }

    router::TierReply stream(router::Api api, const std::string& model, const ojson& request,
                             const std::function<bool(const ojson&)>& emit) override {
        auto svc = pool_.acquire(model, std::nullopt);
        if (!svc) {
            const api::Reply r = oa::failure(svc.error());
            return {r.status, r.body};
        }
        // The model's own stream (the plain route's code), its events handed on as JSON.
        http::Response inner;
        const auto st = api == router::Api::Completion ? stream_openai_completion(inner, *svc, request, timeout_s_)
                                                       : stream_openai_chat(inner, *svc, request, timeout_s_);
        if (!st) {
            const api::Reply r = oa::failure(st.error());
            return {r.status, r.body};
        }
        EventSink sink(emit);
        for (size_t offset = 0; !sink.finished() && inner.provider(offset, sink);) offset = sink.bytes();
        return {sink.gone() ? 499 : 200, {{"usage", sink.usage()}}};
    }

  private:
    // Server-sent events written as bytes, parsed back into the JSON of each event.
    class EventSink : public http::DataSink {
      public:
        explicit EventSink(const std::function<bool(const ojson&)>& emit) : emit_(emit) {}
        bool write(const char* data, size_t n) override {
            bytes_ += n;
            buf_.append(data, n);
            for (size_t end; (end = buf_.find("\n\n")) != std::string::npos;) {
                const std::string event = buf_.substr(0, end);
                buf_.erase(0, end + 2);
                if (event.rfind("data: ", 0) != 0 || event == "data: [DONE]") continue;
                const ojson j = ojson::parse(event.substr(6), nullptr, false);
                if (j.is_discarded()) continue;
                if (j.contains("usage") && j["usage"].is_object()) usage_ = j["usage"];
                if (!emit_(j)) gone_ = true;
            }
            return !gone_;
        }
        void done() override { finished_ = true; }
        bool is_writable() const override { return !gone_; }
        bool finished() const { return finished_ || gone_; }
        bool gone() const { return gone_; }
        size_t bytes() const { return bytes_; }
        const ojson& usage() const { return usage_; }

      private:
        const std::function<bool(const ojson&)>& emit_;
        std::string buf_;
        size_t bytes_ = 0;
        bool finished_ = false, gone_ = false;
        ojson usage_ = ojson::object();
    };

    double mean_ms(const std::string& model) {
        std::lock_guard<std::mutex> lock(mu_);
        const auto it = pace_.find(model);
        return it == pace_.end() ? 1000.0 : it->second;
    }
    ModelPool& pool_;
    int timeout_s_;
    std::mutex mu_;
    std::map<std::string, double> pace_;  // per model, the moving mean of a routed answer's time
};

bool send_event(http::DataSink& sink, const ojson& j) {
    const std::string line = "data: " + dump(j) + "\n\n";
    return sink.write(line.data(), line.size());
}

// A whole answer as the chunks a stream of it would have been.
std::vector<ojson> as_chunks(const ojson& answer) {
    const std::string id = answer.value("id", oa::new_id("chatcmpl"));
    const int64_t created = answer.value("created", api::unix_now());
    const std::string model = answer.value("model", "");
    std::vector<ojson> out;
    for (const auto& c : answer.value("choices", ojson::array())) {
        const int i = c.value("index", 0);
        const ojson m = c.value("message", ojson::object());
        ojson delta = {{"role", "assistant"}, {"content", m.value("content", ojson(""))}};
        if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
            ojson calls = m["tool_calls"];
            for (size_t k = 0; k < calls.size(); ++k) calls[k]["index"] = k;
            delta["tool_calls"] = calls;
        }
        out.push_back(oa::chat_chunk(id, created, model,
                                     ojson::array({{{"index", i}, {"delta", delta}, {"finish_reason", nullptr}}})));
        ojson last = {{"index", i}, {"delta", ojson::object()}, {"finish_reason", c.value("finish_reason", ojson())}};
        if (c.contains("violations")) last["violations"] = c["violations"];
        out.push_back(oa::chat_chunk(id, created, model, ojson::array({last})));
    }
    ojson usage = oa::chat_chunk(id, created, model, ojson::array());
    usage["usage"] = answer.value("usage", ojson::object());
    out.push_back(usage);
    return out;
}

}  // namespace

bool serve_routed(const http::Request& req, http::Response& res, ModelPool& pool, const HttpOptions& opt,
                  router::Api api) {
    auto parsed = api::parse_request(req.body);
    if (!parsed) return false;  // the plain path reports it
    const auto it = parsed->find("model");
    if (it == parsed->end() || !it->is_string()) return false;
    const router::Route* route = opt.router->config().route(it->get<std::string>());
    if (route == nullptr) return false;

    router::RequestInfo info;
    info.api = api;
    info.tier = req.get_header_value("X-Terraferma-Tier");
    const std::string sensitive = req.get_header_value("X-Terraferma-Sensitive");
    info.sensitive = sensitive == "1" || sensitive == "true" || sensitive == "yes";
    if (parsed->contains("metadata") && (*parsed)["metadata"].is_object()) {
        const ojson& m = (*parsed)["metadata"];
        if (m.contains("sensitive") && ((m["sensitive"].is_boolean() && m["sensitive"].get<bool>()) ||
                                        (m["sensitive"].is_string() && m["sensitive"] == "true")))
            info.sensitive = true;
    }
    api::ensure_seed(*parsed);
    auto tiers = std::make_shared<PoolTiers>(pool, opt.request_timeout_s);
    auto stream_flag = oa::stream_flag(*parsed);
    if (!stream_flag) {
        send_openai_error(res, stream_flag.error());
        return true;
    }
    const bool stream = *stream_flag && api != router::Api::Embedding;
    if (!stream) {
        router::Routed r = opt.router->answer(*route, std::move(*parsed), info, *tiers);
        res.set_header("x-terraferma-route", route->name + "/" + r.tier);
        send(res, {r.status, r.body});
        return true;
    }
    // The tier is known once the stream has begun: the header names the route, each stream's
    // final usage chunk the tier that answered and why.
    res.set_header("x-terraferma-route", route->name);
    res.set_header("Cache-Control", "no-cache");
    auto router = opt.router;
    const router::Route route_copy = *route;
    auto body = std::make_shared<ojson>(std::move(*parsed));
    res.set_chunked_content_provider("text/event-stream", [=](size_t, http::DataSink& sink) {
        router::Emit emit = [&sink](const ojson& chunk) { return send_event(sink, chunk); };
        router::Routed r = router->answer(route_copy, *body, info, *tiers, &emit);
        if (!r.streamed && r.status == 200) {
            std::vector<ojson> chunks;
            try {
                // A whole legacy completion is its own single chunk.
                chunks = api == router::Api::Completion ? std::vector<ojson>{r.body} : as_chunks(r.body);
            } catch (const std::exception& e) {  // a tier's answer of an unexpected shape
                chunks = {ojson{{"error",
                                 {{"message", std::string("an answer of an unexpected shape: ") + e.what()},
                                  {"type", "upstream_error"}}}}};
            }
            for (const ojson& c : chunks)
                if (!send_event(sink, c)) return false;
        } else if (r.status != 200 && r.status != 499) {
            send_event(sink, r.body.contains("error")
                                 ? r.body
                                 : ojson{{"error", {{"message", "the stream broke off"}, {"type", "upstream_error"}}}});
        }
        const std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
        sink.done();
        return true;
    });
    return true;
}

}  // namespace tf::server
