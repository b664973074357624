// A document through a route (extract/classify/summarize --route): the loaded model is the
// route's local tier, its endpoints the remote ones. The router decides as it does for the
// server — personal data and the sensitive mark keep a document here, a failed result or a
// classification under the confidence threshold goes on to the next tier — and the result
// records which tier made it. A local tier's result is the model's own, bit-identical to a run
// without the route (so `verify` recomputes it); a remote tier's is checked against the task
// (the schema, the label set) before it counts.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/document.h"
#include "pipeline/tasks.h"
#include "router/router.h"

namespace tf::pipeline {

struct RouteUse {
    std::shared_ptr<router::Router> router;
    const router::Route* route = nullptr;
    bool sensitive = false;  // --sensitive: no document of the run leaves the machine
};

// What remote tiers cost a run (the ledger's remote columns).
struct RemoteSpend {
    uint64_t tokens_in = 0, tokens_out = 0;
    double usd = 0.0;
};

// The result ({"output", …, "route": {"tier", "remote", "reason"}}) or the error.
Result<nlohmann::ordered_json> run_routed(TaskRunner& runner, const TaskConfig& task, const Document& doc,
                                          const StepMemo* memo, const RouteUse& use, RemoteSpend& spend);

// The identity of a route for the job store's key: its name and a digest of everything that
// decides its results (tiers, endpoints' URLs and models, policy, thresholds, guard).
std::string route_key(const router::RouteConfig& config, const router::Route& route);

}  // namespace tf::pipeline
