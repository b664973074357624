// Scoring fixed continuations of a prompt: the log-probability the model gives each option
// (the sum over its tokens), evaluating the prompt once and each option on a copy of it.
// Classification's confidence comes from here.
#pragma once

#include <vector>

#include "model/context.h"
#include "util/result.h"

namespace tf::engine {

// Uses sequences 0 (the prompt) and 1 (each option in turn); the context needs n_seq_max >= 2.
Result<std::vector<double>> score_options(model::Context& ctx, const std::vector<int32_t>& prompt,
                                          const std::vector<std::vector<int32_t>>& options);

}  // namespace tf::engine
