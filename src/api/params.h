// API request fields → generation options, with the field named in every error.
#pragma once

#include <nlohmann/json.hpp>

#include "api/error.h"
#include "engine/generate.h"

namespace tf::api {

// OpenAI's chat/completions and completions fields (temperature, top_p, max_tokens,
// max_completion_tokens, stop, seed, presence/frequency_penalty, logit_bias, and the
// extensions top_k, min_p, repeat_penalty). Plain temperature sampling by default, as OpenAI.
Status openai_options(const nlohmann::ordered_json& body, int64_t n_vocab, engine::GenerateOptions& o);

// Ollama's "options" object (temperature, top_k, top_p, min_p, typical_p, repeat_penalty,
// repeat_last_n, presence/frequency_penalty, seed, num_predict, stop), with Ollama's defaults.
Status ollama_options(const nlohmann::ordered_json& options, int64_t n_vocab, engine::GenerateOptions& o);
// A "stop" member (a string or an array of strings), when present, into out.
Status stop_option(const nlohmann::ordered_json& object, std::vector<std::string>& out);

}  // namespace tf::api
