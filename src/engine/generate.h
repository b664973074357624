// Text generation on one sequence of a context: prompt prefill (reusing whatever prefix the
// cache already holds), then sample → decode one token at a time, streaming text as it becomes
// complete UTF-8, until an end-of-generation token, a stop string, the token limit or the end
// of the context.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/mask_prefetch.h"
#include "engine/output_contract.h"
#include "model/context.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"
#include "util/result.h"

namespace tf::engine {

struct GenerateOptions {
    int max_tokens = 256;  // < 0: until the end of generation or of the context
    bool ignore_eos = false;
    std::vector<std::string> stop;  // generation ends before the first occurrence of any
    sampling::SamplingParams sampling;
    int batch_size = 512;  // prompt tokens per forward pass
    int logprobs = -1;     // >= 0: report each generated token's log-probability and this many alternatives (server)
    // Structured output: where the grammar admits a single continuation (a JSON key and its
    // quotes after "{", say), append its tokens without sampling and evaluate them in one pass.
    bool jump_forward = true;
    // Structured output: as the token limit (or the end of the context) nears, keep to tokens
    // after which the grammar can still be completed in the tokens left, so that an answer cut
    // off by the limit is still complete JSON (stop reason "length" all the same).
    bool finish_within_limit = true;
    // Under a contract whose schema has gaps (keywords the grammar does not hold), a sampled
    // answer that ends but fails the check is drawn again, up to this many times, each with a
    // seed derived from the request's (resample_seed): deterministic, and never for a greedy
    // answer (it would come out the same). The last draw is returned, with its violations.
    int resample = 0;
    // The text of control tokens in the answer (gpt-oss's harmony markers, which structure it
    // into channels and tool calls); off, control tokens give no text.
    bool render_special = false;
};

// The tokens a constrained answer may still take, for Constraint::set_budget: -1 when the
// option is off or nothing limits it.
int remaining_budget(const GenerateOptions& o, int generated, int context_room);

enum class StopReason { Eos, Length, Stop, Context, Cancelled };
const char* stop_reason_name(StopReason r);

// The seed of draw `attempt` (1, 2, …) of a request seeded `seed`.
uint64_t resample_seed(uint64_t seed, int attempt);
// Whether an answer with these violations is drawn again under `o` (attempts already made).
bool should_resample(const GenerateOptions& o, const std::vector<jsonschema::ValidationError>& violations,
                     StopReason reason, int attempts);

struct Timings {
    int n_prompt = 0;  // prompt tokens evaluated (not counting a reused prefix)
    int n_reused = 0;  // prompt tokens found in the cache
    int n_generated = 0;
    int n_forced = 0;  // of the generated tokens, those appended by jump-forward
    double prompt_ms = 0, generate_ms = 0;
    // Of generate_ms, choosing tokens: the sampler chain with any constraint mask, and the
    // jump-forward text — the time the model is not running.
    double sample_ms = 0;
};

struct GenerateResult {
    std::string text;          // what was streamed, stop string excluded
    std::vector<int32_t> ids;  // generated ids (an end-of-generation token is not included)
    StopReason stop_reason = StopReason::Length;
    Timings timings;
    // Under a contract: what the answer violates, the first violation first (empty: valid).
    std::vector<jsonschema::ValidationError> violations;
};

// Receives text as it is generated; returning false cancels the generation.
using TextSink = std::function<bool(std::string_view)>;

// One conversation or document on sequence 0 of its own context. Remembers the tokens in the
// cache so that a following prompt sharing a prefix (the next chat turn) evaluates only the rest.
class Session {
  public:
    Session(const model::Model& model, const tok::Tokenizer& tokenizer, const model::ContextOptions& options);

    Result<GenerateResult> generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                    const TextSink& sink, std::shared_ptr<sampling::Constraint> constraint = nullptr);
    // Constrained by the contract, and the answer checked against it (GenerateResult::violations).
    Result<GenerateResult> generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                    const TextSink& sink, const OutputContract& contract);

    const std::vector<int32_t>& cached_tokens() const { return cached_; }
    // Forgets the cache (after the context was used directly, by score_options say).
    void forget() {
        cached_.clear();
        ctx_.seq_clear(0);
    }
    model::Context& context() { return ctx_; }

  private:
    // Evaluates prompt[reuse..] and returns the last position's logits.
    Result<std::vector<float>> prefill(const std::vector<int32_t>& prompt, int batch_size, Timings& t);

    const tok::Tokenizer& tok_;
    model::Context ctx_;
    std::vector<int32_t> cached_;
    MaskPrefetch prefetch_;
};

}  // namespace tf::engine
