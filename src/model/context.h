// An inference context: the KV cache of one sequence and the forward pass of the llama-like
// architectures. Tokens are evaluated in batches; logits come back for the positions asked for.
// Every output element goes through the fixed-order kernels, so results are bit-identical with
// any thread count and any batch split.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/model.h"
#include "util/result.h"
#include "util/thread_pool.h"

namespace tf::model {

// How attention rounds. Keys and values are always stored in half precision (the F16 cache).
enum class AttentionNumerics {
    // Float queries, scores, softmax and value sums. Batch-invariant; the default.
    Float,
    // llama.cpp's CPU flash attention, which depends on the batch: with 64 or more query tokens
    // its tiled kernel (float, online softmax over tiles of 64 keys); otherwise its row kernel
    // (queries rounded to half, value sums kept in half). Reproduces llama.cpp's logits, at the
    // price of results that depend on how the prompt is batched — for reference checks only.
    LlamaCppCompatible,
};

struct ContextOptions {
    int n_ctx = 4096;
    int n_threads = 1;
    AttentionNumerics attention = AttentionNumerics::Float;
};

class Context {
  public:
    Context(const Model& model, const ContextOptions& options);
    Context(const Model& model, int n_ctx, int n_threads)
        : Context(model, ContextOptions{n_ctx, n_threads, AttentionNumerics::Float}) {}

    // Evaluates tokens at positions n_past() .. n_past()+n-1 and appends them to the cache.
    // Returns n_vocab logits for every token when all_logits, else for the last one only.
    Result<std::vector<float>> decode(const std::vector<int32_t>& tokens, bool all_logits);

    int n_past() const { return n_past_; }
    int n_ctx() const { return n_ctx_; }
    void clear() { n_past_ = 0; }

  private:
    void attention(int layer, const float* q, int64_t n_tokens, float* out);

    const Model& m_;
    int n_ctx_;
    AttentionNumerics numerics_;
    int n_past_ = 0;
    std::unique_ptr<ThreadPool> pool_;
    // KV cache: [layer][position][n_head_kv * head_dim] as IEEE half (llama.cpp's default type).
    std::vector<std::vector<uint16_t>> k_cache_, v_cache_;
};

}  // namespace tf::model
