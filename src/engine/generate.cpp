#include "engine/generate.h"

#include <algorithm>
#include <chrono>

#include "engine/decoding.h"

namespace tf::engine {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const char* stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::Eos:
            return "eos";
        case StopReason::Length:
            return "length";
        case StopReason::Stop:
            return "stop";
        case StopReason::Context:
            return "context";
        case StopReason::Cancelled:
            return "cancelled";
    }
    return "length";
}

int remaining_budget(const GenerateOptions& o, int generated, int context_room) {
    if (!o.finish_within_limit) return -1;
    int left = std::max(0, context_room);
    if (o.max_tokens >= 0) left = std::min(left, std::max(0, o.max_tokens - generated));
    return left;
}

Session::Session(const model::Model& model, const tok::Tokenizer& tokenizer, const model::ContextOptions& options)
    : tok_(tokenizer), ctx_(model, options) {}

Result<std::vector<float>> Session::prefill(const std::vector<int32_t>& prompt, int batch_size, Timings& t) {
    size_t reuse = 0;
    while (reuse < cached_.size() && reuse < prompt.size() && cached_[reuse] == prompt[reuse]) ++reuse;
    if (reuse == prompt.size()) --reuse;  // the last prompt token is evaluated again for its logits
    // Sliding-window layers may no longer hold what the first new token needs: then nothing is kept.
    reuse = static_cast<size_t>(ctx_.seq_truncate(0, static_cast<int>(reuse)));
    cached_.resize(reuse);
    t.n_reused = static_cast<int>(reuse);
    std::vector<float> logits;
    const size_t chunk = static_cast<size_t>(std::max(batch_size, 1));
    for (size_t i = reuse; i < prompt.size(); i += chunk) {
        const size_t end = std::min(prompt.size(), i + chunk);
        model::Batch b;
        for (size_t j = i; j < end; ++j) b.add(prompt[j], static_cast<int32_t>(j), 0, j + 1 == prompt.size());
        auto r = ctx_.decode(b);
        if (!r) return r.error();
        cached_.insert(cached_.end(), prompt.begin() + static_cast<long>(i), prompt.begin() + static_cast<long>(end));
        if (end == prompt.size()) logits = std::move(r.value());
    }
    t.n_prompt = static_cast<int>(prompt.size() - reuse);
    return logits;
}

Result<GenerateResult> Session::generate(const std::vector<int32_t>& prompt, const GenerateOptions& o,
                                         const TextSink& sink, std::shared_ptr<sampling::Constraint> constraint) {
    const model::Model& m = ctx_.model();
    const int64_t n_vocab = m.hp.n_vocab;
    if (prompt.empty()) return Error{"the prompt is empty"};
    if (Status st = o.sampling.validate(n_vocab); !st) return st.error();
    if (static_cast<int>(prompt.size()) >= ctx_.n_ctx()) {
        return Error{"the prompt has " + std::to_string(prompt.size()) + " tokens; the context holds " +
                     std::to_string(ctx_.n_ctx()) + " (raise --ctx-size)"};
    }
    GenerateResult res;
    const auto t0 = std::chrono::steady_clock::now();
    auto logits = prefill(prompt, o.batch_size, res.timings);
    if (!logits) return logits.error();
    res.timings.prompt_ms = ms_since(t0);

    Decoding d(tok_, o, constraint, n_vocab, prompt);
    std::vector<float> cur = std::move(logits.value());
    const auto t1 = std::chrono::steady_clock::now();
    auto emit = [&](const std::string& text) {
        if (text.empty()) return true;
        res.text += text;
        return sink ? sink(text) : true;
    };
    StopReason reason = StopReason::Length;
    while (!d.empty_answer()) {
        auto next = d.choose(cur.data(), ctx_.n_ctx() - ctx_.seq_len(0));
        if (!next) return next.error();
        Decoding::Step st = d.advance(next.value(), ctx_.seq_len(0), ctx_.n_ctx());
        if (!emit(st.text)) {
            reason = StopReason::Cancelled;
            break;
        }
        if (st.end) {
            reason = *st.end;
            break;
        }
        if (constraint) prefetch_.start({constraint.get()});
        auto step = ctx_.decode(st.evaluate, false);
        prefetch_.wait();
        if (!step) return step.error();
        cached_.insert(cached_.end(), st.evaluate.begin(), st.evaluate.end());
        cur = std::move(step.value());
    }
    emit(d.finish(reason));
    res.stop_reason = reason;
    res.ids = d.generated();
    res.timings.n_generated = static_cast<int>(res.ids.size());
    res.timings.n_forced = d.n_forced();
    res.timings.sample_ms = d.sample_ms();
    res.timings.generate_ms = ms_since(t1);
    return res;
}

uint64_t resample_seed(uint64_t seed, int attempt) {
    // SplitMix64 of the seed and the attempt: well apart from seed + 1 (the next choice's).
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(attempt + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

bool should_resample(const GenerateOptions& o, const std::vector<jsonschema::ValidationError>& violations,
                     StopReason reason, int attempts) {
    const bool ended = reason == StopReason::Eos || reason == StopReason::Stop;
    return !violations.empty() && ended && o.sampling.temperature > 0.0f && attempts < o.resample;
}

Result<GenerateResult> Session::generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                         const TextSink& sink, const OutputContract& contract) {
    GenerateOptions o = options;
    for (int attempt = 0;; ++attempt) {
        if (attempt > 0) o.sampling.seed = resample_seed(options.sampling.seed, attempt);
        auto r = generate(prompt, o, sink, contract.constraint());
        if (!r) return r;
        r->violations = contract.check(r->text);
        if (!should_resample(options, r->violations, r->stop_reason, attempt)) return r;
    }
}

}  // namespace tf::engine
