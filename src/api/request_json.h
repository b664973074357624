// A request body as JSON: its shape bounded before the document is built, and a fresh seed for
// requests that name none.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/error.h"

namespace tf::api {

// Limits on a request's JSON shape, checked in one linear pass before the document is built:
// an object keeps its keys in order (a linear search per key), so 100k keys would cost seconds
// of CPU per request and 1M keys minutes.
constexpr size_t kMaxJsonKeys = 10000;  // per object
constexpr size_t kMaxJsonDepth = 128;

// The body as a JSON object; TooLarge beyond the limits above, Invalid when it is not one.
Result<nlohmann::ordered_json> parse_request(std::string_view body);

// A request that names no seed gets a fresh one, written into its body so that it is both used
// and reported (`"seed"` in the response): identical requests at temperature 1 then differ, as
// a chat UI's "regenerate" expects, and each answer can still be reproduced with its seed.
// Below 2^53, so that JavaScript clients read it exactly.
uint64_t fresh_seed();
void ensure_seed(nlohmann::ordered_json& body);         // OpenAI: top-level "seed"
void ensure_ollama_seed(nlohmann::ordered_json& body);  // Ollama: options.seed

}  // namespace tf::api
