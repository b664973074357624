#include "router/route_config.h"

#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace tf::router {

const char* policy_name(Policy p) {
    switch (p) {
        case Policy::Block:
            return "block";
        case Policy::Redact:
            return "redact";
        case Policy::Allow:
            return "allow";
    }
    return "block";
}

const Route* RouteConfig::route(const std::string& name) const {
    for (const Route& r : routes)
        if (r.name == name) return &r;
    return nullptr;
}

const Endpoint* RouteConfig::endpoint(const std::string& name) const {
    for (const Endpoint& e : endpoints)
        if (e.name == name) return &e;
    return nullptr;
}

namespace {

// Errors are thrown inside the parser and caught once at its edge: every check below is one
// line, and each names the file, the line and the dotted key.
struct ConfigError {
    std::string message;
};

class Reader {
  public:
    explicit Reader(std::string path) : path_(std::move(path)) {}

    std::string at(const toml::node& n) const {
        const auto& s = n.source();
        return path_ + ":" + std::to_string(s.begin.line);
    }
    [[noreturn]] void fail(const toml::node& n, const std::string& key, const std::string& what) const {
        throw ConfigError{at(n) + ": " + key + ": " + what};
    }

    const toml::table& table(const toml::node& n, const std::string& key) const {
        if (!n.is_table()) fail(n, key, "must be a table");
        return *n.as_table();
    }
    std::string string(const toml::node& n, const std::string& key) const {
        if (!n.is_string()) fail(n, key, "must be a string");
        return n.as_string()->get();
    }
    int integer(const toml::node& n, const std::string& key, int64_t lo, int64_t hi) const {
        if (!n.is_integer()) fail(n, key, "must be an integer");
        const int64_t v = n.as_integer()->get();
        if (v < lo || v > hi) fail(n, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return static_cast<int>(v);
    }
    double number(const toml::node& n, const std::string& key) const {
        if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
        if (!n.is_floating_point()) fail(n, key, "must be a number");
        return n.as_floating_point()->get();
    }
    bool boolean(const toml::node& n, const std::string& key) const {
        if (!n.is_boolean()) fail(n, key, "must be true or false");
        return n.as_boolean()->get();
    }
    std::vector<std::string> strings(const toml::node& n, const std::string& key) const {
        if (!n.is_array()) fail(n, key, "must be an array of strings");
        std::vector<std::string> out;
        for (const auto& e : *n.as_array()) out.push_back(string(e, key));
        return out;
    }
    // Every key of `t` must be one of `known`: a misspelt key is an error, not a silent default.
    void only(const toml::table& t, const std::string& prefix, std::initializer_list<const char*> known) const {
        for (const auto& [k, v] : t) {
            bool ok = false;
            for (const char* name : known) ok = ok || k.str() == name;
            if (!ok) {
                std::string list;
                for (const char* name : known) list += std::string(list.empty() ? "" : ", ") + name;
                fail(v, prefix + std::string(k.str()), "unknown key (known here: " + list + ")");
            }
        }
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

Endpoint read_endpoint(const Reader& r, const std::string& name, const toml::table& t) {
    const std::string p = "endpoints." + name + ".";
    r.only(t, p,
           {"url", "model", "api_key_env", "api_key_file", "timeout_s", "connect_timeout_s", "retries",
            "breaker_failures", "breaker_open_s", "usd_per_mtok_in", "usd_per_mtok_out"});
    Endpoint e;
    e.name = name;
    e.where = r.at(t);
    for (const auto& [k, v] : t) {
        const std::string key = p + std::string(k.str());
        if (k == "url") {
            e.url = r.string(v, key);
            if (e.url.rfind("https://", 0) != 0 && e.url.rfind("http://", 0) != 0)
                r.fail(v, key, "must start with https:// or http://");
            while (!e.url.empty() && e.url.back() == '/') e.url.pop_back();
        } else if (k == "model") {
            e.model = r.string(v, key);
        } else if (k == "api_key_env") {
            e.api_key_env = r.string(v, key);
        } else if (k == "api_key_file") {
            e.api_key_file = r.string(v, key);
        } else if (k == "timeout_s") {
            e.timeout_s = r.integer(v, key, 1, 86400);
        } else if (k == "connect_timeout_s") {
            e.connect_timeout_s = r.integer(v, key, 1, 600);
        } else if (k == "retries") {
            e.retries = r.integer(v, key, 0, 10);
        } else if (k == "breaker_failures") {
            e.breaker_failures = r.integer(v, key, 1, 1000);
        } else if (k == "breaker_open_s") {
            e.breaker_open_s = r.integer(v, key, 0, 86400);
        } else if (k == "usd_per_mtok_in") {
            e.usd_per_mtok_in = r.number(v, key);
        } else if (k == "usd_per_mtok_out") {
            e.usd_per_mtok_out = r.number(v, key);
        }
    }
    if (e.url.empty()) r.fail(t, "endpoints." + name, "needs a url");
    if (!e.api_key_env.empty() && !e.api_key_file.empty())
        r.fail(t, "endpoints." + name, "api_key_env and api_key_file are exclusive");
    return e;
}

Escalation read_escalation(const Reader& r, const std::string& p, const toml::table& t) {
    r.only(t, p, {"schema", "context", "min_mean_logprob", "min_token_logprob", "max_queue_wait_ms"});
    Escalation e;
    for (const auto& [k, v] : t) {
        const std::string key = p + std::string(k.str());
        if (k == "schema") {
            e.schema = r.boolean(v, key);
        } else if (k == "context") {
            e.context = r.boolean(v, key);
        } else if (k == "min_mean_logprob" || k == "min_token_logprob") {
            const double x = r.number(v, key);
            if (x > 0) r.fail(v, key, "a log-probability is at most 0");
            (k == "min_mean_logprob" ? e.min_mean_logprob : e.min_token_logprob) = x;
        } else if (k == "max_queue_wait_ms") {
            e.max_queue_wait_ms = r.integer(v, key, 0, 86400000);
        }
    }
    return e;
}

RouteConfig read(const Reader& r, const toml::table& root,
                 const std::function<bool(const std::string&)>& is_local_model) {
    RouteConfig c;
    c.path = r.path();
    r.only(root, "", {"audit_log", "guard", "endpoints", "routes"});
    const std::string dir = [&] {
        const auto slash = r.path().rfind('/');
        return slash == std::string::npos ? std::string() : r.path().substr(0, slash + 1);
    }();
    auto relative = [&](std::string p) { return p.empty() || p[0] == '/' ? p : dir + p; };
    if (const auto* n = root.get("audit_log")) c.audit_log = relative(r.string(*n, "audit_log"));
    if (const auto* n = root.get("guard")) {
        const auto& g = r.table(*n, "guard");
        r.only(g, "guard.", {"regions", "patterns", "dictionaries"});
        if (const auto* x = g.get("regions")) c.guard.phone_regions = r.strings(*x, "guard.regions");
        if (const auto* x = g.get("patterns")) {
            for (const auto& [k, v] : r.table(*x, "guard.patterns"))
                c.guard.patterns.emplace_back(std::string(k.str()),
                                              r.string(v, "guard.patterns." + std::string(k.str())));
        }
        if (const auto* x = g.get("dictionaries")) {
            for (const auto& [k, v] : r.table(*x, "guard.dictionaries")) {
                const std::string key = "guard.dictionaries." + std::string(k.str());
                const std::string file = relative(r.string(v, key));
                std::ifstream in(file);
                if (!in) r.fail(v, key, "cannot read " + file);
                std::vector<std::string> words;
                for (std::string w; std::getline(in, w);) {
                    while (!w.empty() && (w.back() == '\r' || w.back() == ' ')) w.pop_back();
                    if (!w.empty()) words.push_back(w);
                }
                c.guard.dictionaries.emplace_back(std::string(k.str()), std::move(words));
            }
        }
    }
    if (const auto* n = root.get("endpoints")) {
        for (const auto& [k, v] : r.table(*n, "endpoints"))
            c.endpoints.push_back(
                read_endpoint(r, std::string(k.str()), r.table(v, "endpoints." + std::string(k.str()))));
    }
    const auto* routes = root.get("routes");
    if (routes == nullptr) throw ConfigError{r.path() + ": no [routes.NAME] table: nothing to route"};
    for (const auto& [k, v] : r.table(*routes, "routes")) {
        const std::string name(k.str()), p = "routes." + name + ".";
        const auto& t = r.table(v, "routes." + name);
        r.only(t, p, {"tiers", "privacy", "escalate"});
        Route route;
        route.name = name;
        route.where = r.at(t);
        const auto* tiers = t.get("tiers");
        if (tiers == nullptr) r.fail(t, "routes." + name, "needs tiers = [\"local-model\", \"endpoint\", …]");
        std::set<std::string> seen;
        for (const auto& tier : *tiers->as_array()) {
            const std::string tn = r.string(tier, p + "tiers");
            // Without is_local_model (the pipeline: one model), every other name is the local tier.
            const bool remote = c.endpoint(tn) != nullptr, local = is_local_model ? is_local_model(tn) : !remote;
            if (remote && local)
                r.fail(tier, p + "tiers", "'" + tn + "' is both a served model and an endpoint; rename one");
            if (!remote && !local)
                r.fail(tier, p + "tiers", "'" + tn + "' is neither a served model (-m) nor an [endpoints] entry");
            if (!seen.insert(tn).second) r.fail(tier, p + "tiers", "'" + tn + "' is listed twice");
            route.tiers.push_back({tn, remote});
        }
        if (route.tiers.empty()) r.fail(*tiers, p + "tiers", "is empty");
        if (const auto* x = t.get("privacy")) {
            const std::string s = r.string(*x, p + "privacy");
            if (s == "block")
                route.privacy = Policy::Block;
            else if (s == "redact")
                route.privacy = Policy::Redact;
            else if (s == "allow")
                route.privacy = Policy::Allow;
            else
                r.fail(*x, p + "privacy", "must be block, redact or allow (not '" + s + "')");
        }
        if (const auto* x = t.get("escalate")) route.escalate = read_escalation(r, p + "escalate.", r.table(*x, p));
        c.routes.push_back(std::move(route));
    }
    if (c.routes.empty()) throw ConfigError{r.path() + ": no [routes.NAME] table: nothing to route"};
    return c;
}

}  // namespace

Result<RouteConfig> parse_route_config(const std::string& text, const std::string& path,
                                       const std::function<bool(const std::string&)>& is_local_model) {
    try {
        const toml::table root = toml::parse(text, path);
        const Reader r(path);
        // The array check toml++ cannot do for us: tiers must be an array before iterating.
        if (const auto* routes = root.get("routes"); routes != nullptr && routes->is_table()) {
            for (const auto& [k, v] : *routes->as_table()) {
                const auto* t = v.as_table();
                const auto* tiers = t == nullptr ? nullptr : t->get("tiers");
                if (tiers != nullptr && !tiers->is_array())
                    r.fail(*tiers, "routes." + std::string(k.str()) + ".tiers", "must be an array of names");
            }
        }
        return read(r, root, is_local_model);
    } catch (const toml::parse_error& e) {
        return Error{path + ":" + std::to_string(e.source().begin.line) + ":" +
                     std::to_string(e.source().begin.column) + ": " + std::string(e.description())};
    } catch (const ConfigError& e) {
        return Error{e.message};
    }
}

Result<RouteConfig> load_route_config(const std::string& path,
                                      const std::function<bool(const std::string&)>& is_local_model) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot read the routes file", ErrorKind::NotFound};
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_route_config(ss.str(), path, is_local_model);
}

}  // namespace tf::router
