// Ollama's /api/chat and /api/generate request bodies → engine requests: the rendered prompt,
// "options", logprobs, "format" and tools.
#pragma once

#include <nlohmann/json.hpp>

#include "api/error.h"
#include "api/service.h"
#include "engine/scheduler.h"

namespace tf::api::ollama {

using ojson = nlohmann::ordered_json;

// "stream" (Ollama's default: true).
bool streamed(const ojson& body);

// /api/chat with non-empty "messages".
Result<engine::GenerationRequest> chat_request(const Service& svc, const ojson& body);
// /api/generate with a non-empty "prompt": templated with "system", or as given when "raw".
Result<engine::GenerationRequest> generate_request(const Service& svc, const ojson& body);

}  // namespace tf::api::ollama
