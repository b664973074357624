// terraferma verify MANIFEST.json — re-run a recorded run and check every output is identical.
// terraferma report [--store DB] [--prices F.json] [--kwh-price P] [--json] — tokens, time,
// energy and the equivalent cloud cost of past runs.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "cli/document_flags.h"
#include "pipeline/manifest.h"
#include "pipeline/store.h"
#include "util/thread_pool.h"

namespace tf::cli {

namespace {

// List prices in USD per million tokens (input, output) as published by the providers in
// August 2024; replace with --prices for today's figures.
const char* kDefaultPrices = R"({"as_of": "2024-08", "currency": "USD", "per_million_tokens": {
  "gpt-4o-mini": {"input": 0.15, "output": 0.60},
  "gpt-4o": {"input": 2.50, "output": 10.00}}})";

}  // namespace

void add_ledger_commands(CLI::App& root, Commands& commands) {
    {
        struct Args {
            std::string manifest;
            int threads = 0;
        };
        auto a = std::make_shared<Args>();
        CLI::App* app = root.add_subcommand("verify",
                                            "Check a recorded run: the manifest's digest, every line of its output "
                                            "file, and every document re-run (same result or same error)");
        app->add_option("manifest", a->manifest, "The manifest (OUT.manifest.json) of a run")->required();
        app->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
        add_document_options(app);  // re-reading an encrypted PDF needs its password again
        commands.push_back({app, [a]() {
                                std::ifstream f(a->manifest);
                                if (!f) {
                                    print_error("verify", a->manifest + ": cannot open");
                                    return kExitFailure;
                                }
                                std::stringstream ss;
                                ss << f.rdbuf();
                                const auto m = nlohmann::ordered_json::parse(ss.str(), nullptr, false);
                                if (m.is_discarded()) {
                                    print_error("verify", a->manifest + ": not JSON");
                                    return kExitUsage;
                                }
                                auto r = pipeline::verify_manifest(
                                    m, a->threads > 0 ? a->threads : ThreadPool::default_threads(), true);
                                if (!r) {
                                    print_error("verify", r.error().message);
                                    return kExitFailure;
                                }
                                for (const auto& n : r->notes) std::printf("NOTE     %s\n", n.c_str());
                                for (const auto& p : r->problems) std::printf("DIFFERS  %s\n", p.c_str());
                                std::printf("%zu documents: %zu identical, %zu skipped (NOTE says why), %zu problems\n",
                                            r->documents, r->identical, r->skipped, r->problems.size());
                                return r->problems.empty() ? kExitOk : kExitFailure;
                            }});
    }
    {
        struct Args {
            std::string store = ".terraferma/jobs.sqlite", prices;
            double kwh_price = 0.30;
            bool json = false;
        };
        auto a = std::make_shared<Args>();
        CLI::App* app =
            root.add_subcommand("report", "Tokens, time, energy and the equivalent cloud cost of past runs");
        app->add_option("--store", a->store, "Job store holding the ledger (SQLite path or postgresql:// URL)")
            ->capture_default_str();
        app->add_option("--prices", a->prices,
                        "Price table JSON: {\"per_million_tokens\": {\"model\": {\"input\": $, \"output\": $}}}");
        app->add_option("--kwh-price", a->kwh_price, "Electricity price per kWh (same currency)")
            ->capture_default_str();
        app->add_flag("--json", a->json, "One JSON object");
        commands.push_back(
            {app, [a]() {
                 auto store = pipeline::open_store(a->store);
                 if (!store) {
                     print_error("report", store.error().message);
                     return kExitFailure;
                 }
                 auto runs = (*store)->runs();
                 if (!runs) {
                     print_error("report", runs.error().message);
                     return kExitFailure;
                 }
                 std::string prices_text = kDefaultPrices;
                 if (!a->prices.empty()) {
                     std::ifstream f(a->prices);
                     std::stringstream ss;
                     ss << f.rdbuf();
                     prices_text = ss.str();
                 }
                 const auto prices = nlohmann::ordered_json::parse(prices_text, nullptr, false);
                 if (prices.is_discarded() || !prices.contains("per_million_tokens")) {
                     print_error("report", "the price table needs per_million_tokens");
                     return kExitUsage;
                 }
                 struct Total {
                     int64_t runs = 0, docs = 0, tin = 0, tout = 0, rin = 0, rout = 0;
                     double wall = 0, cpu = 0, wh = 0, rusd = 0;
                 };
                 std::map<std::string, Total> by_day;
                 Total all;
                 for (const auto& r : *runs) {
                     std::time_t t = r.started_at;
                     std::tm tm{};
                     gmtime_r(&t, &tm);
                     char day[16];
                     std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
                     for (Total* x : {&by_day[day], &all}) {
                         x->runs += 1, x->docs += r.computed, x->tin += r.tokens_in, x->tout += r.tokens_out;
                         x->wall += r.wall_seconds, x->cpu += r.cpu_seconds, x->wh += r.energy_wh;
                         x->rin += r.remote_tokens_in, x->rout += r.remote_tokens_out, x->rusd += r.remote_usd;
                     }
                 }
                 auto cloud = [&](const Total& t) {
                     nlohmann::ordered_json c = nlohmann::ordered_json::object();
                     for (auto it = prices["per_million_tokens"].begin(); it != prices["per_million_tokens"].end();
                          ++it) {
                         c[it.key()] = (static_cast<double>(t.tin) * it->value("input", 0.0) +
                                        static_cast<double>(t.tout) * it->value("output", 0.0)) /
                                       1e6;
                     }
                     return c;
                 };
                 auto row = [&](const Total& t) {
                     return nlohmann::ordered_json{
                         {"runs", t.runs},
                         {"documents_computed", t.docs},
                         {"tokens_in", t.tin},
                         {"tokens_out", t.tout},
                         {"wall_seconds", t.wall},
                         {"cpu_seconds", t.cpu},
                         {"energy_wh", t.wh},
                         {"energy_cost", t.wh / 1000.0 * a->kwh_price},
                         {"cloud_cost", cloud(t)},
                         {"remote", {{"tokens_in", t.rin}, {"tokens_out", t.rout}, {"spend", t.rusd}}}};
                 };
                 if (a->json) {
                     nlohmann::ordered_json j = {{"prices_as_of", prices.value("as_of", "")},
                                                 {"total", row(all)},
                                                 {"days", nlohmann::ordered_json::object()}};
                     for (const auto& [d, t] : by_day) j["days"][d] = row(t);
                     std::printf("%s\n", j.dump(1).c_str());
                     return kExitOk;
                 }
                 std::printf("%-10s %5s %8s %12s %12s %9s %9s %10s %12s %10s", "day", "runs", "docs", "tokens in",
                             "tokens out", "cpu s", "energy Wh", "energy $", "remote tok", "remote $");
                 for (auto it = prices["per_million_tokens"].begin(); it != prices["per_million_tokens"].end(); ++it)
                     std::printf(" %14s", it.key().c_str());
                 std::printf("\n");
                 auto print = [&](const std::string& label, const Total& t) {
                     std::printf("%-10s %5lld %8lld %12lld %12lld %9.1f %9.2f %10.4f", label.c_str(),
                                 static_cast<long long>(t.runs), static_cast<long long>(t.docs),
                                 static_cast<long long>(t.tin), static_cast<long long>(t.tout), t.cpu, t.wh,
                                 t.wh / 1000.0 * a->kwh_price);
                     std::printf(" %12lld %10.4f", static_cast<long long>(t.rin + t.rout), t.rusd);
                     const auto c = cloud(t);
                     for (auto it = c.begin(); it != c.end(); ++it) std::printf(" %14.4f", it->get<double>());
                     std::printf("\n");
                 };
                 for (const auto& [d, t] : by_day) print(d, t);
                 print("total", all);
                 std::printf(
                     "tokens in/out: the local model's; remote: tokens sent to and answered by remote tiers of "
                     "routes (--route) and their spend at the endpoints' prices\n"
                     "cloud columns: what the local tokens would cost at list prices of %s (%s per million tokens; "
                     "--prices to update)\n",
                     prices.value("as_of", "?").c_str(), prices.value("currency", "USD").c_str());
                 return kExitOk;
             }});
    }
}

}  // namespace tf::cli
