#include "router/router.h"

#include "router/answer_check.h"
#include "router/json_fields.h"
#include "router/redact.h"

namespace tf::router {

namespace {

// Every string of a request a person may have written: chat messages' contents (plain, or text
// parts) and the arguments of earlier tool calls; a completion's prompt; an embedding's input.
template <typename F>
void for_each_text(ojson& request, F&& f) {
    if (!request.is_object()) return;
    for (const char* key : {"prompt", "input"}) {
        auto it = request.find(key);
        if (it == request.end()) continue;
        if (it->is_string()) {
            f(*it);
        } else if (it->is_array()) {
            for (auto& e : *it)
                if (e.is_string()) f(e);
        }
    }
    auto it = request.find("messages");
    if (it == request.end() || !it->is_array()) return;
    for (auto& m : *it) {
        if (!m.is_object()) continue;
        if (auto c = m.find("content"); c != m.end()) {
            if (c->is_string()) {
                f(*c);
            } else if (c->is_array()) {
                for (auto& part : *c)
                    if (part.is_object() && part.contains("text") && part["text"].is_string()) f(part["text"]);
            }
        }
        for_each_tool_arguments(m, [&](ojson&, ojson& args) { f(args); });
    }
}

const char* path_of(Api api) {
    switch (api) {
        case Api::Completion:
            return "/completions";
        case Api::Embedding:
            return "/embeddings";
        case Api::Chat:
            break;
    }
    return "/chat/completions";
}

TierReply error_reply(int status, const std::string& message, const char* type) {
    return {status, ojson{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}}};
}

std::string error_message(const ojson& body) {
    if (body.is_object() && body.contains("error")) {
        const ojson& e = body["error"];
        if (e.is_string()) return e.get<std::string>();
        if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    }
    return "an error without a message";
}

// A boolean of a request; anything but true reads as false (a client's wrong type is not an
// exception here).
bool flag(const ojson& o, const char* key) {
    if (!o.is_object()) return false;
    const auto it = o.find(key);
    return it != o.end() && it->is_boolean() && it->get<bool>();
}

int64_t usage_of(const ojson& body, const char* key) {
    if (!body.is_object() || !body.contains("usage") || !body["usage"].is_object()) return 0;
    const ojson& u = body["usage"];
    return u.contains(key) && u[key].is_number_integer() ? u[key].get<int64_t>() : 0;
}

}  // namespace

Result<std::unique_ptr<Router>> Router::create(RouteConfig config) {
    auto scanner = PrivacyScanner::create(config.guard);
    if (!scanner) return Error{config.path + ": guard: " + scanner.error().message};
    std::unique_ptr<Router> r(new Router(std::move(config), std::move(*scanner)));
    for (const Endpoint& e : r->config_.endpoints) {
        auto c = RemoteClient::create(e);
        if (!c) return c.error();
        r->remotes_[e.name] = std::move(*c);
    }
    if (!r->config_.audit_log.empty()) {
        auto log = AuditLog::open(r->config_.audit_log);
        if (!log) return log.error();
        r->audit_ = std::move(*log);
    }
    return r;
}

void Router::audit(const Route& route, const Routed& r, const std::map<std::string, int>& found, const char* action,
                   double cost_usd) {
    if (!audit_) return;
    AuditRecord a;
    a.route = route.name;
    a.tier = r.tier;
    a.remote = r.remote;
    a.reason = r.reason;
    a.policy = policy_name(route.privacy);
    a.action = action;
    a.found = found;
    a.tokens_in = usage_of(r.body, "prompt_tokens");
    a.tokens_out = usage_of(r.body, "completion_tokens");
    a.cost_usd = cost_usd;
    a.status = r.status;
    (void)audit_->append(a);  // a full disk must not take the answer down with it
}

Routed Router::remote(Api api, const Route& route, const Endpoint& e, RemoteClient& client, ojson request, bool redact,
                      const std::string& reason, const Emit* emit) {
    Routed out;
    out.tier = e.name;
    out.remote = true;
    Vault vault;
    if (redact) {
        std::string seen;
        for_each_text(request, [&](ojson& s) { seen += s.get_ref<const std::string&>() + "\n"; });
        for_each_text(request, [&](ojson& s) {
            const std::string text = s.get<std::string>();
            s = vault.redact(text, scanner_.scan(text), seen);
        });
    }
    request["model"] = e.model.empty() ? route.name : e.model;
    const bool stream = api != Api::Embedding && flag(request, "stream") && emit != nullptr;
    if (!stream) {
        if (api != Api::Embedding) request["stream"] = false;
        auto reply = client.post(path_of(api), request.dump());
        if (!reply) {
            out.status = reply.error().kind == ErrorKind::Timeout ? 504 : 503;
            out.body = error_reply(out.status, reply.error().message, "upstream_error").body;
            return out;
        }
        ojson body = ojson::parse(reply->body, nullptr, false);
        if (body.is_discarded()) {
            out.status = 502;
            out.body =
                error_reply(502, "endpoint " + e.name + " answered something that is not JSON", "upstream_error").body;
            return out;
        }
        out.status = static_cast<int>(reply->status);
        if (auto* choices = field(body, "choices"); out.status == 200 && choices != nullptr && choices->is_array()) {
            for (auto& c : *choices) {
                if (auto* m = field(c, "message")) restore_chat_message(vault, *m);
                if (auto* t = field(c, "text"); t != nullptr && t->is_string())
                    *t = vault.restore(t->get<std::string>());
            }
        }
        out.body = std::move(body);
        return out;
    }
    // Passed through: each chunk's text restored as it arrives (a placeholder may be split
    // across chunks: the restorers hold back what could still be one); usage asked of the
    // endpoint for the ledger, shown to the client only if it asked too.
    request["stream_options"] = {{"include_usage", true}};
    ChunkRestorer restorer(vault);
    bool client_gone = false, emitted = false;
    ojson usage;
    auto on_data = [&](std::string_view data) {
        if (data == "[DONE]") return true;
        ojson chunk = ojson::parse(data, nullptr, false);
        if (chunk.is_discarded() || !chunk.is_object()) return true;
        chunk["model"] = route.name;
        const bool has_choices = chunk.contains("choices") && chunk["choices"].is_array() && !chunk["choices"].empty();
        if (chunk.contains("usage") && chunk["usage"].is_object()) {
            usage = chunk;  // sent last, with the route added
            if (!has_choices) return true;
            chunk.erase("usage");
        }
        restorer.restore(chunk);
        emitted = true;
        if (!(*emit)(chunk)) {
            client_gone = true;
            return false;
        }
        return true;
    };
    auto status = client.stream(path_of(api), request.dump(), on_data);
    // Nothing sent yet: the caller may still try another tier.
    out.streamed = emitted;
    if (!status) {
        out.status = emitted ? 502 : status.error().kind == ErrorKind::Timeout ? 504 : 503;
        out.body = error_reply(out.status, status.error().message, "upstream_error").body;
        return out;
    }
    out.status = client_gone ? 499 : static_cast<int>(*status);
    if (!client_gone && out.status == 200) {
        if (!usage.is_object())
            usage = {{"object", api == Api::Chat ? "chat.completion.chunk" : "text_completion"},
                     {"choices", ojson::array()}};
        usage["model"] = route.name;
        if (!usage.contains("usage") || !usage["usage"].is_object()) usage["usage"] = ojson::object();
        usage["usage"]["route"] = {{"name", route.name}, {"tier", e.name}, {"remote", true}, {"reason", reason}};
        (*emit)(usage);
        out.streamed = true;
    }
    out.body = {{"usage", usage.is_object() && usage.contains("usage") ? usage["usage"] : ojson::object()}};
    return out;
}

Routed Router::answer(const Route& route, ojson request, const RequestInfo& info, LocalTiers& locals,
                      const Emit* emit) {
    // A tier's answer (another machine's) of an unexpected shape must not take the request down
    // with an exception: every access checks its types, and this is the net under them.
    try {
        return route_request(route, std::move(request), info, locals, emit);
    } catch (const std::exception& e) {
        Routed r;
        r.status = 502;
        r.body = error_reply(502, "route '" + route.name + "': an answer of an unexpected shape: " + e.what(),
                             "upstream_error")
                     .body;
        r.reason = "failed: " + std::string(e.what());
        return r;
    }
}

Routed Router::route_request(const Route& route, ojson request, const RequestInfo& info, LocalTiers& locals,
                             const Emit* emit) {
    const Api api = info.api;
    std::map<std::string, int> found;
    for_each_text(request, [&](ojson& s) {
        for (const Finding& f : scanner_.scan(s.get_ref<const std::string&>())) ++found[f.type];
    });
    const bool personal = !found.empty();
    const bool client_logprobs = flag(request, "logprobs");
    // The answer checks read chat answers (a message, its tool calls, its tokens'
    // log-probabilities); completions and embeddings are routed on the rest.
    const bool want_confidence =
        api == Api::Chat && (route.escalate.min_mean_logprob || route.escalate.min_token_logprob);
    const bool stream = emit != nullptr && flag(request, "stream");
    // Whether a check could send an answer to the next tier: a confidence threshold, or a schema
    // or tools to judge it by.
    const bool judged_by_schema =
        api == Api::Chat && route.escalate.schema &&
        ((request.contains("response_format") && request["response_format"].is_object() &&
          request["response_format"].contains("type") && request["response_format"]["type"] != "text") ||
         (request.contains("tools") && request["tools"].is_array() && !request["tools"].empty()));
    const bool checks_apply = want_confidence || judged_by_schema;

    std::vector<const Tier*> tiers;
    for (const Tier& t : route.tiers)
        if (info.tier.empty() || info.tier == t.name) tiers.push_back(&t);
    auto finish = [&](Routed r, const char* action, double cost = 0.0) {
        if (!r.streamed && r.body.is_object() && r.status == 200) {
            r.body["model"] = route.name;
            if (!r.body.contains("usage") || !r.body["usage"].is_object()) r.body["usage"] = ojson::object();
            r.body["usage"]["route"] = {
                {"name", route.name}, {"tier", r.tier}, {"remote", r.remote}, {"reason", r.reason}};
        }
        r.cost_usd = cost;
        audit(route, r, found, action, cost);
        return r;
    };
    if (tiers.empty()) {
        Routed r;
        r.status = 400;
        r.body = error_reply(400, "route '" + route.name + "' has no tier '" + info.tier + "'", "invalid_request_error")
                     .body;
        r.reason = "explicit tier " + info.tier + " unknown";
        return finish(std::move(r), "failed");
    }

    std::string trail;
    auto note = [&](const std::string& tier, const std::string& why) {
        trail += (trail.empty() ? "" : "; ") + tier + ": " + why;
    };
    std::optional<Routed> fallback;  // a local answer that failed a check, kept in case nothing better comes
    const Tier* deferred = nullptr;  // a local tier passed over for its queue, run if nothing else can answer
    bool blocked = false;
    auto run_local = [&](const Tier& t) {
        ojson req = request;
        req["model"] = t.name;
        if (api != Api::Embedding) req["stream"] = false;
        req.erase("stream_options");
        if (want_confidence) req["logprobs"] = true;
        if (api == Api::Embedding) {
            req.erase("stream");
            req.erase("logprobs");
        }
        TierReply reply = locals.complete(api, t.name, req);
        Routed r;
        r.status = reply.status;
        r.body = std::move(reply.body);
        r.tier = t.name;
        return r;
    };
    auto strip_logprobs = [&](Routed& r) {
        if (client_logprobs || !want_confidence || !r.body.contains("choices")) return;
        for (auto& c : r.body["choices"])
            if (c.is_object()) c["logprobs"] = nullptr;
    };

    for (size_t i = 0; i < tiers.size(); ++i) {
        const Tier& t = *tiers[i];
        const bool more = i + 1 < tiers.size();
        if (t.remote) {
            if (info.sensitive) {
                note(t.name, "skipped: the request is marked sensitive");
                blocked = true;
                continue;
            }
            if (personal && route.privacy == Policy::Block) {
                note(t.name, "skipped: personal data under the block policy");
                blocked = true;
                continue;
            }
            const Endpoint& e = *config_.endpoint(t.name);
            RemoteClient& client = *remotes_.at(t.name);
            if (!client.available()) {
                note(t.name, "skipped: circuit open");
                continue;
            }
            const bool redact = personal && route.privacy == Policy::Redact;
            Routed r = remote(api, route, e, client, request, redact, trail.empty() ? "first tier" : trail, emit);
            const double cost = (static_cast<double>(usage_of(r.body, "prompt_tokens")) * e.usd_per_mtok_in +
                                 static_cast<double>(usage_of(r.body, "completion_tokens")) * e.usd_per_mtok_out) /
                                1e6;
            const char* action = redact ? "redacted" : "sent";
            if (r.streamed) {
                r.reason = trail.empty() ? "first tier" : trail;
                return finish(std::move(r), action, cost);
            }
            if (r.status != 200) {
                note(t.name, "failed: " + error_message(r.body));
                continue;
            }
            if (auto problem = api == Api::Chat ? answer_problem(request, r.body, route.escalate) : std::nullopt;
                problem && more) {
                note(t.name, *problem);
                fallback = std::move(r);
                continue;
            }
            r.reason = trail.empty() ? "first tier" : trail;
            return finish(std::move(r), action, cost);
        }
        const LocalTiers::State st = locals.state(api, t.name, request);
        if (route.escalate.context && !st.fits && more) {
            note(t.name, "context: " + std::to_string(st.prompt_tokens) + " prompt tokens, context " +
                             std::to_string(st.context));
            continue;
        }
        if (route.escalate.max_queue_wait_ms && st.expected_wait_ms > *route.escalate.max_queue_wait_ms && more) {
            note(t.name, "queue: expected wait " + std::to_string(static_cast<int>(st.expected_wait_ms)) + " ms > " +
                             std::to_string(*route.escalate.max_queue_wait_ms) + " ms");
            if (deferred == nullptr) deferred = &t;
            continue;
        }
        // Streamed token by token when nothing could send this answer on: the last tier, or no
        // check that applies to it.
        if (stream && (!more || !checks_apply)) {
            ojson req = request;
            req["model"] = t.name;
            req["stream_options"] = {{"include_usage", true}};
            const std::string reason = trail.empty() ? "first tier" : trail;
            bool emitted = false;
            auto forward = [&](const ojson& chunk) {
                ojson c = chunk;
                c["model"] = route.name;
                if (c.contains("usage") && c["usage"].is_object())
                    c["usage"]["route"] = {
                        {"name", route.name}, {"tier", t.name}, {"remote", false}, {"reason", reason}};
                emitted = true;
                return (*emit)(c);
            };
            TierReply reply = locals.stream(api, t.name, req, forward);
            Routed r;
            r.status = reply.status;
            r.body = std::move(reply.body);
            r.tier = t.name;
            r.reason = reason;
            r.streamed = emitted;
            if (emitted || !more) return finish(std::move(r), r.status == 200 ? "local" : "failed");
            note(t.name, "failed: " + error_message(r.body));
            continue;
        }
        Routed r = run_local(t);
        if (r.status != 200) {
            note(t.name, "failed: " + error_message(r.body));
            if (more) continue;
            r.reason = trail;
            return finish(std::move(r), "failed");
        }
        if (auto problem = api == Api::Chat ? answer_problem(request, r.body, route.escalate) : std::nullopt;
            problem && more) {
            note(t.name, *problem);
            strip_logprobs(r);
            if (!fallback) fallback = std::move(r);
            continue;
        }
        strip_logprobs(r);
        r.reason = trail.empty() ? "first tier" : trail;
        return finish(std::move(r), "local");
    }
    // Nothing after the first choice could answer: a local tier passed over for its queue
    // answers after all, else the best answer that failed a check, else a clear error.
    if (deferred != nullptr) {
        Routed r = run_local(*deferred);
        strip_logprobs(r);
        r.reason = trail + "; back to " + deferred->name;
        return finish(std::move(r), r.status == 200 ? "local" : "failed");
    }
    if (fallback) {
        fallback->reason = trail + "; kept " + fallback->tier + "'s answer";
        const char* action = fallback->remote ? "sent" : "local";
        return finish(std::move(*fallback), action);
    }
    Routed r;
    if (blocked) {
        r.status = 403;
        r.body = error_reply(403,
                             "route '" + route.name +
                                 "': the request may not leave this machine (personal data or marked sensitive) "
                                 "and no local tier could answer it (" +
                                 trail + ")",
                             "permission_error")
                     .body;
    } else {
        r.status = 503;
        r.body =
            error_reply(503, "route '" + route.name + "': no tier could answer (" + trail + ")", "server_overloaded")
                .body;
    }
    r.reason = trail;
    return finish(std::move(r), blocked ? "blocked" : "failed");
}

}  // namespace tf::router
