// API request fields → generation options, with the field named in every error.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/generate.h"
#include "server/service.h"

namespace tf::server {

// OpenAI's chat/completions and completions fields (temperature, top_p, max_tokens,
// max_completion_tokens, stop, seed, presence/frequency_penalty, logit_bias, and the
// extensions top_k, min_p, repeat_penalty). Plain temperature sampling by default, as OpenAI.
bool openai_options(const nlohmann::ordered_json& body, int64_t n_vocab, engine::GenerateOptions& o, ApiError& err);

// Ollama's "options" object (temperature, top_k, top_p, min_p, typical_p, repeat_penalty,
// repeat_last_n, presence/frequency_penalty, seed, num_predict, stop), with Ollama's defaults.
bool ollama_options(const nlohmann::ordered_json& options, int64_t n_vocab, engine::GenerateOptions& o, ApiError& err);

}  // namespace tf::server
