// The JSON shapes of Ollama's answers: a streamed line or whole object of /api/chat and
// /api/generate, the final fields with timings, and /api/embed(dings).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "api/answer_json.h"
#include "api/error.h"
#include "api/service.h"
#include "engine/tool_calls.h"

namespace tf::api::ollama {

using ojson = nlohmann::ordered_json;

// {"error": message} with the kind's status.
Reply failure(const Error& e);

// done, done_reason, durations and counts of a final event (and its violations).
ojson final_fields(const engine::JobEvent& e);
// One piece of /api/chat's answer: {model, created_at, message: {role, content}}.
ojson chat_piece(const std::string& model, const std::string& text);
// /api/chat's whole answer parsed into content, thinking (harmony) and tool calls.
ojson chat_parsed(const std::string& model, engine::ToolSyntax syntax, const std::string& text);
// One piece of /api/generate's answer: {model, created_at, response}.
ojson generate_piece(const std::string& model, const std::string& text);

// /api/embed: "input" a string or strings; "truncate" (default true) cuts inputs longer than
// the context instead of refusing them, as Ollama does. `t0`: when the request arrived.
Reply embed(Service& svc, const ojson& body, std::chrono::steady_clock::time_point t0);
// The older /api/embeddings: one "prompt", one "embedding".
Reply embedding(Service& svc, const ojson& body);

}  // namespace tf::api::ollama
