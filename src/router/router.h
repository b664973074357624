// The cascade: a route's tiers tried in order for an OpenAI chat request, each skipped or left
// for the next one for a reason the route configures (explicit choice, personal data under the
// privacy policy, a request marked sensitive, an open circuit, the context, the local queue, a
// failed schema or tool-call check, low confidence), the privacy guard applied to whatever
// leaves, and one audit record per request. Local tiers are reached through LocalTiers, which
// the server implements with its loaded models; the router knows nothing of HTTP.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "router/audit_log.h"
#include "router/privacy_scan.h"
#include "router/remote_client.h"
#include "router/route_config.h"

namespace tf::router {

using ojson = nlohmann::ordered_json;

// The OpenAI endpoint a request is for: what its text is (messages, prompt, input), where it
// goes on a remote tier, and what its answer holds.
enum class Api { Chat, Completion, Embedding };

struct TierReply {
    int status = 200;
    ojson body;  // the endpoint's answer, or an OpenAI error object
};

class LocalTiers {
  public:
    virtual ~LocalTiers() = default;
    struct State {
        bool fits = true;  // the prompt and its answer fit the model's context
        int prompt_tokens = 0, context = 0;
        double expected_wait_ms = 0;  // before a new request would start
    };
    virtual State state(Api api, const std::string& model, const ojson& request) = 0;
    // The non-streamed answer of `model` (request["model"] already names it).
    virtual TierReply complete(Api api, const std::string& model, const ojson& request) = 0;
    // The streamed answer (chat, completion), each chunk through `emit` as it is generated; the
    // reply's body holds the final usage ({"usage": {…}}) or the error.
    virtual TierReply stream(Api api, const std::string& model, const ojson& request,
                             const std::function<bool(const ojson&)>& emit) = 0;
};

struct RequestInfo {
    Api api = Api::Chat;
    std::string tier;        // X-Terraferma-Tier: only this tier (empty: the route decides)
    bool sensitive = false;  // X-Terraferma-Sensitive: never leaves the machine
};

struct Routed {
    int status = 200;
    ojson body;  // the answer (usage.route says which tier and why) or an OpenAI error object
    std::string tier;
    bool remote = false;
    std::string reason;     // the decisions taken, "tiny: schema: … → cloud"
    bool streamed = false;  // the answer went out through `emit` (a remote stream, passed through)
    double cost_usd = 0.0;  // a remote tier's prices times its usage
};

// Streamed chunks (OpenAI chat.completion.chunk objects); false when the client has gone.
using Emit = std::function<bool(const ojson&)>;

class Router {
  public:
    static Result<std::unique_ptr<Router>> create(RouteConfig config);
    const RouteConfig& config() const { return config_; }

    // Answers `request` (an OpenAI request of info.api naming `route`). With `emit` and a
    // streamed request, a remote tier's stream is passed through as it arrives (placeholders
    // restored), and so is a local tier's when its answer cannot be escalated any more (the last
    // tier, or no check applies); an answer that must pass a check first comes back whole for
    // the caller to send.
    Routed answer(const Route& route, ojson request, const RequestInfo& info, LocalTiers& locals,
                  const Emit* emit = nullptr);

  private:
    Router(RouteConfig config, PrivacyScanner scanner) : config_(std::move(config)), scanner_(std::move(scanner)) {}
    Routed route_request(const Route& route, ojson request, const RequestInfo& info, LocalTiers& locals,
                         const Emit* emit);
    Routed remote(Api api, const Route& route, const Endpoint& e, RemoteClient& client, ojson request, bool redact,
                  const std::string& reason, const Emit* emit);
    void audit(const Route& route, const Routed& r, const std::map<std::string, int>& found, const char* action,
               double cost_usd);

    RouteConfig config_;
    PrivacyScanner scanner_;
    std::map<std::string, std::unique_ptr<RemoteClient>> remotes_;
    std::unique_ptr<AuditLog> audit_;
};

}  // namespace tf::router
