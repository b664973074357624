// The routes file: a valid one read whole; each mistake named by file, line and key.
#include "router/route_config.h"

#include <gtest/gtest.h>

namespace {

using tf::router::parse_route_config;

bool local(const std::string& name) {
    return name == "small" || name == "medium";
}

std::string error_of(const std::string& text) {
    auto r = parse_route_config(text, "routes.toml", local);
    return r ? std::string("(no error)") : r.error().message;
}

TEST(RouteConfig, a_whole_file_is_read) {
    auto r = parse_route_config(R"(audit_log = "/var/log/tf/audit.jsonl"
[guard]
regions = ["IT"]
[guard.patterns]
employee = "EMP-[0-9]{6}"

[endpoints.cloud]
url = "https://api.example.com/v1/"
model = "gpt-4o-mini"
usd_per_mtok_in = 0.15
usd_per_mtok_out = 0.6

[routes.invoices]
tiers = ["small", "medium", "cloud"]
privacy = "redact"
[routes.invoices.escalate]
min_mean_logprob = -1.5
max_queue_wait_ms = 2000
schema = false
)",
                                "conf/routes.toml", local);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->routes.size(), 1u);
    const auto& route = r->routes[0];
    EXPECT_EQ(route.name, "invoices");
    ASSERT_EQ(route.tiers.size(), 3u);
    EXPECT_FALSE(route.tiers[0].remote);
    EXPECT_TRUE(route.tiers[2].remote);
    EXPECT_EQ(route.privacy, tf::router::Policy::Redact);
    EXPECT_FALSE(route.escalate.schema);
    EXPECT_EQ(*route.escalate.min_mean_logprob, -1.5);
    EXPECT_EQ(*route.escalate.max_queue_wait_ms, 2000);
    EXPECT_EQ(r->endpoint("cloud")->url, "https://api.example.com/v1");
    EXPECT_EQ(r->guard.phone_regions, std::vector<std::string>{"IT"});
    EXPECT_EQ(r->guard.patterns.at(0).first, "employee");
    EXPECT_EQ(r->audit_log, "/var/log/tf/audit.jsonl");
}

TEST(RouteConfig, mistakes_name_the_file_line_and_key) {
    EXPECT_EQ(error_of("[routes.a]\ntiers = [\"small\"]\nprivacy = \"leak\"\n"),
              "routes.toml:3: routes.a.privacy: must be block, redact or allow (not 'leak')");
    EXPECT_EQ(error_of("[routes.a]\ntiers = [\"small\", \"nowhere\"]\n"),
              "routes.toml:2: routes.a.tiers: 'nowhere' is neither a served model (-m) nor an [endpoints] entry");
    EXPECT_EQ(error_of("[routes.a]\ntiers = [\"small\"]\n[routes.a.escalate]\nmin_mean_logprob = 0.5\n"),
              "routes.toml:4: routes.a.escalate.min_mean_logprob: a log-probability is at most 0");
    EXPECT_EQ(error_of("[routes.a]\ntier = [\"small\"]\n"),
              "routes.toml:2: routes.a.tier: unknown key (known here: tiers, privacy, escalate)");
    EXPECT_EQ(error_of("[endpoints.x]\nurl = \"ftp://x\"\n[routes.a]\ntiers = [\"x\"]\n"),
              "routes.toml:2: endpoints.x.url: must start with https:// or http://");
    EXPECT_EQ(error_of("[routes.a]\ntiers = \"small\"\n"), "routes.toml:2: routes.a.tiers: must be an array of names");
    EXPECT_EQ(error_of("[routes.a]\ntiers = [\"small\"\n"),
              error_of("[routes.a]\ntiers = [\"small\"\n"));  // a syntax error: toml++'s own message
    EXPECT_NE(error_of("[routes.a]\ntiers = [\"small\"\n").find("routes.toml:"), std::string::npos);
    EXPECT_EQ(error_of("audit_log = \"x\"\n"), "routes.toml: no [routes.NAME] table: nothing to route");
}

}  // namespace
