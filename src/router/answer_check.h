// Whether a tier's chat answer is good enough to return, judged the same for a local and a
// remote tier: it satisfies the request's JSON Schema (response_format) and its tool calls name
// offered tools with arguments valid against their parameters; its tokens' log-probabilities
// are not under the route's thresholds. A local answer that already failed its contract says so
// in finish_reason ("schema_violation").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "router/route_config.h"

namespace tf::router {

// Why the answer should go to the next tier ("schema: /total minimum: …", "confidence: mean
// log-probability -2.31 < -1.00"), or nothing.
std::optional<std::string> answer_problem(const nlohmann::ordered_json& request, const nlohmann::ordered_json& answer,
                                          const Escalation& e);

}  // namespace tf::router
