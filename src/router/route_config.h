// The routing configuration: remote endpoints, routes (a public model name → an ordered list of
// tiers, each a local model or a remote endpoint), when to escalate to the next tier, the privacy
// policy of what may leave, the guard's own patterns and the audit log. One TOML file (toml++
// from Debian), checked whole at start-up: an error names the file, the line and the key.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "router/privacy_scan.h"
#include "util/result.h"

namespace tf::router {

// A remote OpenAI-compatible server (another site's terraferma, vLLM, a cloud API).
struct Endpoint {
    std::string name;
    std::string url;           // base URL up to and including /v1
    std::string model;         // the model name sent; empty: the route's public name
    std::string api_key_env;   // where the key comes from (never written to a log)
    std::string api_key_file;  // (a file holding only the key; surrounding whitespace ignored)
    int timeout_s = 120;       // a whole request
    int connect_timeout_s = 5;
    int retries = 2;                // after the first try, on connection failures, 429 and 5xx
    int breaker_failures = 3;       // consecutive failures that open the circuit
    int breaker_open_s = 30;        // how long it stays open (no request is tried meanwhile)
    double usd_per_mtok_in = 0.0;   // the price of a million prompt tokens (the ledger's remote spend)
    double usd_per_mtok_out = 0.0;  // and of a million generated ones
    std::string where;              // "FILE:LINE" of its table, for messages
};

enum class Policy { Block, Redact, Allow };
const char* policy_name(Policy p);

// What makes a tier hand the request to the next one.
struct Escalation {
    bool schema = true;                       // the answer fails its JSON Schema or a tool call its parameters
    bool context = true;                      // the prompt does not fit the tier's context
    std::optional<double> min_mean_logprob;   // low confidence: the mean token log-probability under this
    std::optional<double> min_token_logprob;  // or any token's under this
    std::optional<int> max_queue_wait_ms;     // peak overflow: the local queue's expected wait over this
};

struct Tier {
    std::string name;  // a served local model or an endpoint's name
    bool remote = false;
};

struct Route {
    std::string name;  // what clients call "model"
    std::vector<Tier> tiers;
    Policy privacy = Policy::Block;  // what may leave when the guard finds personal data
    Escalation escalate;
    std::string where;
};

struct RouteConfig {
    std::string path;
    std::vector<Endpoint> endpoints;
    std::vector<Route> routes;
    ScanOptions guard;
    std::string audit_log;  // empty: no audit log

    const Route* route(const std::string& name) const;
    const Endpoint* endpoint(const std::string& name) const;
};

// Reads and checks `path`; `is_local_model(name)` says whether a tier names a served model (a
// name neither an endpoint nor a local model is an error naming its line). Without it, every
// name that is not an endpoint is a local tier.
Result<RouteConfig> load_route_config(const std::string& path,
                                      const std::function<bool(const std::string&)>& is_local_model);
// The same from text (tests, and the file's contents once read).
Result<RouteConfig> parse_route_config(const std::string& text, const std::string& path,
                                       const std::function<bool(const std::string&)>& is_local_model);

}  // namespace tf::router
