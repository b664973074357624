// Choosing the next token from the model's logits: a fixed chain of transformations, then
// greedy or a seeded random draw.
//
//   logit bias → constraint mask → repetition/presence/frequency penalties → top-k →
//   typical-p → top-p → min-p → temperature → draw
//
// (llama.cpp's default order.) The constraint hook is where structured output plugs in: it
// removes the tokens a grammar forbids before anything else looks at the distribution. Same
// logits, parameters, seed and history → same token, on any machine.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sampling/rng.h"
#include "util/result.h"

namespace tf::sampling {

struct SamplingParams {
    float temperature = 0.8f;  // <= 0: greedy
    int top_k = 40;            // <= 0: off
    float top_p = 0.95f;       // >= 1: off
    float min_p = 0.05f;       // <= 0: off
    float typical_p = 1.0f;    // >= 1: off
    float repeat_penalty = 1.0f;    // 1: off; divides positive logits, multiplies negative ones
    int repeat_last_n = 64;         // history window for the penalties (-1: all, 0: off)
    float presence_penalty = 0.0f;  // subtracted once from every token seen in the window
    float frequency_penalty = 0.0f; // subtracted per occurrence
    std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logit (-inf bans a token)
    uint64_t seed = 0;

    Status validate(int64_t n_vocab) const;  // ranges and bias ids, with a message naming the field
};

// Implemented by the structured-output engine: forbids tokens and follows the chosen ones.
class Constraint {
  public:
    virtual ~Constraint() = default;
    // Sets the logits of tokens not allowed next to -inf.
    virtual void apply(float* logits, int64_t n_vocab) = 0;
    virtual void accept(int32_t token) = 0;
    // Computes ahead what apply() will need in the current state. The engine calls it on
    // another thread while the model evaluates the last tokens, so that a mask not seen before
    // costs no time of its own; nothing else touches the constraint until it returns.
    virtual void prepare() {}
    // Text the constraint admits as the only continuation (at most max_bytes, whole UTF-8
    // characters), for jump-forward decoding; empty when there is a choice.
    virtual std::string forced_text(size_t max_bytes) {
        (void)max_bytes;
        return {};
    }
    // Finishing within the token limit: the tokens the answer may still take, this one included
    // (< 0: no limit), set before each sample. A constraint that cannot be left half-done (an
    // open JSON document) then refuses, through fits, a token after which it could not be
    // completed in the tokens left, and narrow bans every such token (the sampler calls it when
    // its choice did not fit, and chooses again).
    virtual void set_budget(int tokens) { (void)tokens; }
    virtual bool fits(int32_t token) {
        (void)token;
        return true;
    }
    virtual void narrow(float* logits, int64_t n_vocab) {
        (void)logits;
        (void)n_vocab;
    }
};

struct TokenProb {
    int32_t id;
    float logit;
    float p;  // after the chain
};

class Sampler {
  public:
    Sampler(const SamplingParams& params, int64_t n_vocab);

    void set_constraint(std::shared_ptr<Constraint> c) { constraint_ = std::move(c); }

    // Runs the chain on a copy of the logits and returns the chosen token. When every token is
    // banned (by biases or a constraint), returns an error instead of an arbitrary token.
    Result<int32_t> sample(const float* logits);
    // Records a token in the penalty history and, when generated, advances the constraint.
    // Prompt tokens are accepted with generated = false, so penalties see the prompt as
    // llama.cpp's do while the grammar starts at the first generated token.
    void accept(int32_t token, bool generated = true);

    // The candidates that survived the last sample(), most probable first, probabilities summing to 1.
    const std::vector<TokenProb>& last_candidates() const { return cand_; }

  private:
    void apply_penalties(float* logits) const;
    Result<int32_t> choose(const float* logits);  // the chain over prepared logits

    SamplingParams p_;
    int64_t n_vocab_;
    Rng rng_;
    std::shared_ptr<Constraint> constraint_;
    std::deque<int32_t> history_;
    std::vector<float> work_;
    std::vector<TokenProb> cand_;
};

}  // namespace tf::sampling
