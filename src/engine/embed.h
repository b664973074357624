// Sentence embeddings from a model's final hidden states (after the output norm), pooled over
// the input's tokens and scaled to unit length — what /v1/embeddings and /api/embed return.
// Each input is evaluated alone on a cleared sequence, in fixed-size chunks, so its embedding
// depends only on the model and the text.
#pragma once

#include <string>
#include <vector>

#include "model/context.h"
#include "util/result.h"

namespace tf::engine {

enum class Pooling { Mean, Cls, Last };

// "mean", "cls", "last" → the pooling; an error naming the value otherwise.
Result<Pooling> parse_pooling(const std::string& name);
const char* pooling_name(Pooling p);

// The pooling the model's metadata asks for (`<arch>.pooling_type`: 1 mean, 2 cls, 3 last);
// mean when it says nothing, as most decoder models used for embeddings are pooled.
Pooling model_pooling(const model::Model& model);

// Uses sequence 0 of `ctx` (cleared before and after). Empty input is an error.
Result<std::vector<float>> embed(model::Context& ctx, const std::vector<int32_t>& tokens, Pooling pooling, bool normalize = true);

}  // namespace tf::engine
