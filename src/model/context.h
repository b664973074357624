// An inference context: the KV cache of up to n_seq_max sequences and the forward pass of the
// transformer architectures. A batch may mix tokens of several sequences at different
// positions (continuous batching); logits come back for the tokens that ask for them. Every
// output element goes through fixed-order kernels and each token attends only to its own
// sequence, so results are bit-identical with any thread count, any batch split and any
// company in the batch (with the default attention numerics).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "kernels/ops.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "util/result.h"
#include "util/thread_pool.h"

namespace tf::model {

// How attention rounds over an F16 cache (a Q8_0 cache always uses Float).
enum class AttentionNumerics {
    // Float queries, scores, softmax and value sums. Batch-invariant; the default.
    Float,
    // llama.cpp's CPU flash attention, which depends on the batch: with 64 or more query tokens
    // its tiled kernel (float, online softmax over tiles of 64 keys); otherwise its row kernel
    // (queries rounded to half, value sums kept in half). Matrix products also take llama.cpp's
    // accumulation order where kernels/dot_llama_cpp.h has it. Reproduces llama.cpp's logits, at
    // the price of results that depend on how the prompt is batched — for reference checks only.
    LlamaCppCompatible,
};

struct ContextOptions {
    int n_ctx = 4096;     // KV cells shared by all sequences (and the longest a sequence can be)
    int n_seq_max = 1;
    int n_threads = 1;
    AttentionNumerics attention = AttentionNumerics::Float;
    TensorType k_type = TensorType::F16;  // KV cache element types: F16 or Q8_0
    TensorType v_type = TensorType::F16;
    // Positions a sliding-window layer keeps beyond its window, so that a sequence can be cut
    // back that far and continued without recomputing it (prefix reuse); older ones free their
    // memory. Negative: keep every position (llama.cpp's --swa-full). No effect on the results.
    int swa_extra = kDefaultSwaExtra;
    static constexpr int kDefaultSwaExtra = 256;
};

// Tokens to evaluate: token i is at position pos[i] of sequence seq[i]. A sequence's tokens
// must continue it: positions seq_len, seq_len+1, … in batch order.
struct Batch {
    std::vector<int32_t> token, pos, seq;
    std::vector<uint8_t> logits;  // 1: return this token's next-token logits

    void add(int32_t t, int32_t p, int32_t s, bool want_logits) {
        token.push_back(t);
        pos.push_back(p);
        seq.push_back(s);
        logits.push_back(want_logits ? 1 : 0);
    }
    size_t size() const { return token.size(); }
    void clear() { token.clear(), pos.clear(), seq.clear(), logits.clear(); }
};

// What a forward pass returns for each token that asks for output.
enum class Output {
    Logits,      // n_vocab next-token logits
    Embeddings,  // the final hidden state after the output norm (n_embd floats), for pooling
};

class Context {
  public:
    Context(const Model& model, const ContextOptions& options);
    Context(const Model& model, int n_ctx, int n_threads)
        : Context(model, ContextOptions{n_ctx, 1, n_threads, AttentionNumerics::Float}) {}
    ~Context();

    // Why these options cannot serve this model (a Q8_0 cache needs head sizes divisible by 32).
    // The constructor requires options that pass.
    static Status check(const Model& model, const ContextOptions& options);

    // Evaluates the batch and appends it to the cache. Returns n_vocab logits (or n_embd
    // hidden-state values) for every token with logits[i] set, in batch order. On error nothing
    // is appended.
    Result<std::vector<float>> decode(const Batch& batch, Output what = Output::Logits);
    // Sequence 0 alone: tokens at positions n_past() .. ; logits of every token or the last.
    Result<std::vector<float>> decode(const std::vector<int32_t>& tokens, bool all_logits);

    int n_past() const { return kv_.seq_len(0); }
    int n_ctx() const { return n_ctx_; }
    int n_seq_max() const { return kv_.n_seq_max(); }
    int seq_len(int seq) const { return kv_.seq_len(seq); }
    void clear() { kv_.clear(0); }
    // Sequence operations for prefix reuse and cancelled requests. seq_truncate returns the
    // length kept: `len`, or 0 when sliding-window layers no longer hold what position `len`
    // would attend to (the sequence is then forgotten and must be evaluated from the start).
    int seq_truncate(int seq, int len) { return kv_.truncate(seq, len); }
    // What seq_truncate(seq, len) would keep, without changing anything.
    int seq_reusable(int seq, int len) const { return kv_.reusable(seq, len); }
    void seq_copy(int src, int dst) { kv_.copy(src, dst); }
    void seq_clear(int seq) { kv_.clear(seq); }
    const KvCache& kv() const { return kv_; }
    const Model& model() const { return m_; }
    // The threads decode() runs on, idle between calls: for the caller's own parallel work.
    ThreadPool& pool() { return *pool_; }

  private:
    struct Scratch;
    void attention(int layer, const Batch& b, const float* q, float* out);
    void feed_forward(const LayerWeights& L, const float* x, int64_t n, float* out);
    void moe(const LayerWeights& L, const float* x, int64_t n, float* out);
    void matmul(const TensorRef& w, const float* x, int64_t n, float* out);
    // Several products of the same activation rows (Q/K/V, gate/up): the rows are converted once
    // per activation format instead of once per matrix.
    struct Product {
        const TensorRef* w;
        float* out;
    };
    void matmuls(std::initializer_list<Product> products, const float* x, int64_t n);
    // fn(t, thread) for each of n tokens, spread over the pool; per-token work is independent,
    // so results do not depend on the split.
    void per_token(int64_t n, const std::function<void(int64_t t, int thread)>& fn);

    const Model& m_;
    int n_ctx_;
    AttentionNumerics numerics_;
    bool expert_products_ = false;  // inside moe(): products as llama.cpp's MUL_MAT_ID makes them
    std::unique_ptr<ThreadPool> pool_;
    KvCache kv_;
    std::vector<kernels::RopeParams> rope_;  // per layer
    std::unique_ptr<Scratch> s_;
};

}  // namespace tf::model
