// Sentence embeddings from a model's final hidden states (after the output norm), pooled over
// the input's tokens and scaled to unit length — what /v1/embeddings and /api/embed return.
// Each input is evaluated alone on a cleared sequence, in fixed-size chunks, so its embedding
// depends only on the model and the text.
#pragma once

#include <string>
#include <vector>

#include "model/context.h"
#include "tokenizer/tokenizer.h"
#include "util/result.h"

namespace tf::engine {

enum class Pooling { Mean, Cls, Last };

// "mean", "cls", "last" → the pooling; an error naming the value otherwise.
Result<Pooling> parse_pooling(const std::string& name);
const char* pooling_name(Pooling p);

// The pooling the model's metadata asks for (`<arch>.pooling_type`: 1 mean, 2 cls, 3 last);
// mean when it says nothing, as most decoder models used for embeddings are pooled.
Pooling model_pooling(const model::Model& model);

// Uses sequence 0 of `ctx` (cleared before and after). Empty input is an error. An encoder
// (BERT) sees the whole input in one batch, so it must fit the context.
Result<std::vector<float>> embed(model::Context& ctx, const std::vector<int32_t>& tokens, Pooling pooling,
                                 bool normalize = true);
// Several inputs, packed whole into shared forward passes (up to the context's sequences and
// cells): each vector is bit-identical to embed()'s for the same input. Uses (and clears) all
// of the context's sequences.
Result<std::vector<std::vector<float>>> embed_many(model::Context& ctx, const std::vector<std::vector<int32_t>>& inputs,
                                                   Pooling pooling, bool normalize = true);

// A cross-encoder's relevance score of each document for the query (bge-reranker and kin): the
// pair as llama.cpp joins it — BOS, query, EOS, SEP when the vocabulary adds one, document, EOS —
// through the encoder, then the classification head on the first token's final hidden state;
// the head's raw output (no sigmoid).
bool is_reranker(const model::Model& model);
std::vector<int32_t> rerank_pair(const tok::Tokenizer& tokenizer, std::string_view query, std::string_view document);
Result<float> rerank_score(model::Context& ctx, const std::vector<int32_t>& pair_tokens);

}  // namespace tf::engine
