// /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/rerank, /v1/models on HTTP: the
// protocol's mapping is api/openai_*; here are the routes and the server-sent event streams.
#include <thread>

#include "api/affinity.h"
#include "api/job_wait.h"
#include "api/openai_answer.h"
#include "api/openai_request.h"
#include "api/openai_response.h"
#include "server/http_util.h"
#include "server/routes.h"

namespace tf::server {

namespace {

namespace oa = api::openai;
using Logprobs = std::vector<sampling::TokenLogprob>;

// Writes one server-sent event; false when the client is gone.
bool send_event(http::DataSink& sink, const ojson& j) {
    const std::string line = "data: " + dump(j) + "\n\n";
    return sink.write(line.data(), line.size());
}
void end_events(http::DataSink& sink) {
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
}

// Streams n > 1 choices, each chunk naming its choice by index; `chunk(index, text, final,
// logprobs)` builds each event.
void stream_choices(http::Response& res, std::vector<std::shared_ptr<engine::Job>> jobs, int timeout_s,
                    std::function<ojson(int, const std::string&, const engine::JobEvent*, const Logprobs&)> chunk,
                    bool include_usage, std::function<ojson(const std::vector<engine::JobEvent>&)> usage_chunk,
                    std::vector<ojson> first) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [=](size_t, http::DataSink& sink) {
        auto cancel_all = [&] {
            for (auto& j : jobs) j->cancel();
        };
        for (const ojson& f : first) {
            if (!send_event(sink, f)) {
                cancel_all();
                return false;
            }
        }
        const auto deadline = api::deadline_after(timeout_s);
        std::vector<engine::JobEvent> finals(jobs.size());
        std::vector<bool> done(jobs.size(), false);
        size_t n_done = 0;
        while (n_done < jobs.size()) {
            bool any = false;
            for (size_t i = 0; i < jobs.size(); ++i) {
                engine::JobEvent e;
                if (done[i] || !jobs[i]->next(e, 0)) continue;
                any = true;
                if (!e.error.empty()) {
                    send_event(sink, ojson{{"error", {{"message", e.error}, {"type", "server_error"}}}});
                    cancel_all();
                    n_done = jobs.size();
                    break;
                }
                if ((!e.text.empty() || !e.logprobs.empty()) &&
                    !send_event(sink, chunk(static_cast<int>(i), e.text, nullptr, e.logprobs))) {
                    cancel_all();  // the client went away: free the slots
                    return false;
                }
                if (e.done) {
                    send_event(sink, chunk(static_cast<int>(i), "", &e, {}));
                    finals[i] = std::move(e);
                    done[i] = true;
                    ++n_done;
                }
            }
            if (!any && n_done < jobs.size()) {
                if (!sink.is_writable() || std::chrono::steady_clock::now() > deadline) cancel_all();
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        }
        if (include_usage) send_event(sink, usage_chunk(finals));
        end_events(sink);
        return true;
    });
}

// Streams one job; `chunk(text, final, logprobs)` builds each event. With `finalize`, text is
// held back and the chunks it returns are sent at the end instead (tool calls are known only
// once the answer is complete).
void stream_one(http::Response& res, std::shared_ptr<engine::Job> job, int timeout_s,
                std::function<ojson(const std::string&, const engine::JobEvent*, const Logprobs&)> chunk,
                bool include_usage, std::function<ojson(const engine::JobEvent&)> usage_chunk, ojson first,
                std::function<std::vector<ojson>(const std::string&, const engine::JobEvent&)> finalize) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [=](size_t, http::DataSink& sink) {
        if (!first.is_null() && !send_event(sink, first)) {
            job->cancel();
            return false;
        }
        const auto deadline = api::deadline_after(timeout_s);
        std::string held;
        while (true) {
            const engine::JobEvent e = api::next_event(*job, deadline, [&] { return !sink.is_writable(); });
            if (!e.error.empty()) {
                send_event(sink, ojson{{"error", {{"message", e.error}, {"type", "server_error"}}}});
                break;
            }
            if (finalize) {
                held += e.text;
            } else if ((!e.text.empty() || !e.logprobs.empty()) &&
                       !send_event(sink, chunk(e.text, nullptr, e.logprobs))) {
                job->cancel();  // the client went away: free its slot
                return false;
            }
            if (e.done) {
                if (finalize) {
                    for (const ojson& c : finalize(held, e)) send_event(sink, c);
                } else {
                    send_event(sink, chunk("", &e, {}));
                }
                if (include_usage) send_event(sink, usage_chunk(e));
                break;
            }
        }
        end_events(sink);
        return true;
    });
}

// A streamed chat: its choices' deltas, or (one choice parsed whole) the final chunks.
void stream_chat(http::Response& res, std::shared_ptr<Service> held, const ojson& body, oa::Started started,
                 int timeout_s) {
    const std::string id = oa::new_id("chatcmpl");
    const int64_t created = api::unix_now();
    const std::string model = held->model_name();
    const bool want_logprobs = oa::wants_chat_logprobs(body);
    const size_t n_prompt = started.n_prompt;
    auto wrap = [=](ojson choices) { return oa::chat_chunk(id, created, model, std::move(choices)); };
    auto chunk = [=](int i, const std::string& text, const engine::JobEvent* final, const Logprobs& lps) {
        ojson logprobs = want_logprobs && !final ? oa::chat_logprobs(held->tokenizer(), lps) : ojson(nullptr);
        return wrap(oa::content_delta(i, text, final, std::move(logprobs)));
    };
    if (started.jobs.size() > 1) {
        std::vector<ojson> first;
        for (size_t i = 0; i < started.jobs.size(); ++i) first.push_back(wrap(oa::role_delta(static_cast<int>(i))));
        stream_choices(
            res, started.jobs, timeout_s, chunk, oa::wants_usage(body),
            [=](const std::vector<engine::JobEvent>& finals) {
                ojson j = wrap(ojson::array());
                j["usage"] = oa::usage_of(finals, n_prompt);
                return j;
            },
            first);
        return;
    }
    const engine::ToolSyntax syntax = held->tool_syntax();
    stream_one(
        res, started.jobs[0], timeout_s,
        [chunk](const std::string& text, const engine::JobEvent* final, const Logprobs& lps) {
            return chunk(0, text, final, lps);
        },
        oa::wants_usage(body),
        [=](const engine::JobEvent& e) {
            ojson j = wrap(ojson::array());
            j["usage"] = oa::usage_json(e.timings, n_prompt);
            return j;
        },
        wrap(oa::role_delta(0)),
        oa::parse_whole(*held, body) ? std::function<std::vector<ojson>(const std::string&, const engine::JobEvent&)>(
                                           [=](const std::string& text, const engine::JobEvent& e) {
                                               return oa::chat_final_chunks(syntax, text, e, "call-" + id, wrap);
                                           })
                                     : nullptr);
}

// A streamed legacy completion; text_offset of its logprobs runs on across chunks.
void stream_completion(http::Response& res, std::shared_ptr<Service> held, const ojson& body, oa::Started started,
                       int timeout_s) {
    const std::string id = oa::new_id("cmpl");
    const int64_t created = api::unix_now();
    const std::string model = held->model_name();
    const bool want_logprobs = oa::wants_completion_logprobs(body);
    const size_t n_prompt = started.n_prompt;
    auto offsets = std::make_shared<std::vector<size_t>>(started.jobs.size(), 0);
    auto chunk = [=](int i, const std::string& text, const engine::JobEvent* final, const Logprobs& lps) {
        ojson logprobs = want_logprobs && !final
                             ? oa::completion_logprobs(held->tokenizer(), lps, (*offsets)[static_cast<size_t>(i)])
                             : ojson(nullptr);
        ojson j = oa::completion_json(id, created, model, text, final, std::move(logprobs));
        j["choices"][0]["index"] = i;
        return j;
    };
    auto usage = [=](const std::vector<engine::JobEvent>& finals) {
        ojson j = oa::completion_json(id, created, model, "", nullptr);
        j["choices"] = ojson::array();
        j["usage"] = oa::usage_of(finals, n_prompt);
        return j;
    };
    if (started.jobs.size() > 1) {
        stream_choices(res, started.jobs, timeout_s, chunk, oa::wants_usage(body), usage, {});
        return;
    }
    stream_one(
        res, started.jobs[0], timeout_s,
        [chunk](const std::string& text, const engine::JobEvent* final, const Logprobs& lps) {
            return chunk(0, text, final, lps);
        },
        oa::wants_usage(body), [usage](const engine::JobEvent& e) { return usage({e}); }, ojson(), nullptr);
}

}  // namespace

api::Status stream_openai_chat(http::Response& res, std::shared_ptr<Service> held, const ojson& body, int timeout_s) {
    auto n = oa::choice_count(body);
    if (!n) return n.error();
    if (*n > 1 && oa::parse_whole(*held, body))
        return api::bad_request(
            "streaming n > 1 choices with tools (or from a harmony model) is not supported; stream one choice or do "
            "not stream",
            "n");
    auto started = oa::start(*held, body, oa::Endpoint::Chat);
    if (!started) return started.error();
    stream_chat(res, held, body, std::move(*started), timeout_s);
    return {};
}

api::Status stream_openai_completion(http::Response& res, std::shared_ptr<Service> held, const ojson& body,
                                     int timeout_s) {
    if (auto n = oa::choice_count(body); !n) return n.error();
    auto started = oa::start(*held, body, oa::Endpoint::Completion);
    if (!started) return started.error();
    stream_completion(res, held, body, std::move(*started), timeout_s);
    return {};
}

void add_openai_routes(http::Server& srv, ModelPool& pool, const HttpOptions& opt) {
    // The request's body and model, loaded; null after answering the error.
    auto model_for = [&pool](const http::Request& req, http::Response& res, ojson& body) -> std::shared_ptr<Service> {
        auto parsed = api::parse_request(req.body);
        if (!parsed) {
            send_openai_error(res, parsed.error());
            return nullptr;
        }
        body = std::move(*parsed);
        if (const std::string prefix = api::prefix_affinity(body); !prefix.empty())
            res.set_header("x-terraferma-prefix", prefix);
        const auto it = body.find("model");
        auto svc = pool.acquire(it != body.end() && it->is_string() ? it->get<std::string>() : "", std::nullopt);
        if (!svc) {
            send_openai_error(res, svc.error());
            return nullptr;
        }
        return *svc;
    };

    // The generating endpoints: answered whole, or streamed as server-sent events.
    auto generation_route = [&srv, &opt, &pool, model_for](const char* path, oa::Endpoint endpoint) {
        srv.route("POST", path, http::Server::Kind::Heavy,
                  [&opt, &pool, model_for, endpoint](const http::Request& req, http::Response& res) {
                      if (opt.router &&
                          serve_routed(req, res, pool, opt,
                                       endpoint == oa::Endpoint::Chat ? router::Api::Chat : router::Api::Completion))
                          return;
                      ojson body;
                      auto held = model_for(req, res, body);
                      if (!held) return;
                      api::ensure_seed(body);
                      auto stream = oa::stream_flag(body);
                      if (!stream) return send_openai_error(res, stream.error());
                      const bool chat = endpoint == oa::Endpoint::Chat;
                      if (!*stream) {
                          auto on_close = [&req](std::function<void()> f) { req.connection->on_close(std::move(f)); };
                          send(res, chat ? oa::chat_completion(*held, body, opt.request_timeout_s, on_close)
                                         : oa::completion(*held, body, opt.request_timeout_s, on_close));
                          return;
                      }
                      if (chat) {
                          if (auto st = stream_openai_chat(res, held, body, opt.request_timeout_s); !st)
                              send_openai_error(res, st.error());
                          return;
                      }
                      if (auto st = stream_openai_completion(res, held, body, opt.request_timeout_s); !st)
                          send_openai_error(res, st.error());
                  });
    };
    generation_route("/v1/chat/completions", oa::Endpoint::Chat);
    generation_route("/v1/completions", oa::Endpoint::Completion);

    // Endpoints answered whole from the request's body by the model it names.
    auto answer_route = [&srv, &opt, &pool, model_for](const char* path, api::Reply (*answer)(Service&, const ojson&)) {
        srv.route("POST", path, http::Server::Kind::Heavy,
                  [&opt, &pool, model_for, answer, path](const http::Request& req, http::Response& res) {
                      if (opt.router && std::string_view(path) == "/v1/embeddings" &&
                          serve_routed(req, res, pool, opt, router::Api::Embedding))
                          return;
                      ojson body;
                      auto held = model_for(req, res, body);
                      if (held) send(res, answer(*held, body));
                  });
    };
    answer_route("/v1/embeddings", oa::embeddings);
    answer_route("/v1/rerank", oa::rerank);
    answer_route("/rerank", oa::rerank);

    auto model_json = [](const ModelSpec& m) {
        return ojson{{"id", m.name}, {"object", "model"}, {"created", api::unix_now()}, {"owned_by", "terraferma"}};
    };
    srv.route("GET", "/v1/models", http::Server::Kind::Light,
              [&pool, &opt, model_json](const http::Request&, http::Response& res) {
                  ojson data = ojson::array();
                  for (const ModelSpec& m : pool.specs()) data.push_back(model_json(m));
                  if (opt.router) {
                      for (const auto& r : opt.router->config().routes)
                          data.push_back(model_json(ModelSpec{r.name, "", "", "", "", ""}));
                  }
                  res.set_content(dump(ojson{{"object", "list"}, {"data", data}}), "application/json");
              });
    srv.route(
        "GET", "/v1/models/", http::Server::Kind::Light,
        [&pool, model_json](const http::Request& req, http::Response& res) {
            const std::string name = req.matches[1];
            for (const ModelSpec& m : pool.specs()) {
                if (m.name == name) return res.set_content(dump(model_json(m)), "application/json");
            }
            send_openai_error(res, {ErrorKind::NotFound, "the model '" + name + "' does not exist", "model"});
        },
        /*prefix=*/true);
}

}  // namespace tf::server
