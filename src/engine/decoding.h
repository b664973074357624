// The per-token work of one generating sequence, written once for every path that generates:
// Session (one sequence run to its end: run, chat, the pipeline) and the Scheduler (many
// sequences stepped together: the server). After each forward pass it chooses the next token
// (sampler, constraint budget), then decides what follows it: text released past stop strings,
// the end (end-of-generation token, stop string, token limit, full context), or the tokens the
// next pass evaluates — the chosen one and whatever jump-forward appends. A request gives the
// same tokens whichever path runs it because both run this.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "engine/stop_filter.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace tf::engine {

class Decoding {
  public:
    // The sampler has seen the prompt (for repetition penalties) when this returns.
    Decoding(const tok::Tokenizer& tokenizer, const GenerateOptions& options,
             std::shared_ptr<sampling::Constraint> constraint, int64_t n_vocab, const std::vector<int32_t>& prompt);

    // Nothing may be generated (max_tokens 0): the sequence ends with Length before sampling.
    bool empty_answer() const { return o_.max_tokens == 0; }

    // The next token from a position's logits; context_room: the sequence's cells still free.
    // Thread-safe across Decodings (the server samples its sequences in parallel).
    Result<int32_t> choose(const float* logits, int context_room);

    struct Step {
        std::string text;               // released now (a stop string and what follows are cut)
        std::optional<StopReason> end;  // the sequence ends after this token
        std::vector<int32_t> evaluate;  // otherwise: the next forward pass's tokens, the chosen one first
    };
    // `id` was chosen; context_len: tokens already in the sequence's cache; n_ctx: its capacity.
    Step advance(int32_t id, int context_len, int n_ctx);

    // The text still held when the sequence ends for `reason` (none after a stop string or a cancel).
    std::string finish(StopReason reason);

    const std::vector<int32_t>& generated() const { return generated_; }
    int n_forced() const { return n_forced_; }
    double sample_ms() const { return sample_ms_; }

  private:
    const tok::Tokenizer& tok_;
    GenerateOptions o_;
    std::shared_ptr<sampling::Constraint> constraint_;
    sampling::Sampler sampler_;
    tok::StreamDecoder decoder_;
    StopFilter stops_;
    std::vector<int32_t> generated_;
    int n_forced_ = 0;
    double sample_ms_ = 0;
};

}  // namespace tf::engine
