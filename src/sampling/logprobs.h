// Log-probabilities of generated tokens for API clients (OpenAI `logprobs`/`top_logprobs`):
// the log-softmax of the model's raw logits over the whole vocabulary — before temperature,
// penalties, truncation or grammar masks — so that they describe the model, not the request's
// sampler (vLLM's default "raw" logprobs). Computed in a fixed order: deterministic.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace tf::sampling {

struct TokenLogprob {
    int32_t id = 0;
    float logprob = 0;
    std::vector<std::pair<int32_t, float>> top;  // most probable first; ties: lower id first
};

// The log-probability of `id` and the `n_top` most probable tokens (n_top may be 0).
TokenLogprob token_logprob(const float* logits, int64_t n_vocab, int32_t id, int n_top);

}  // namespace tf::sampling
