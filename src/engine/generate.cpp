#include "engine/generate.h"

#include <algorithm>
#include <chrono>

#include "engine/jump_forward.h"
#include "engine/stop_filter.h"

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

    sampling::Sampler sampler(o.sampling, n_vocab);
    if (constraint) sampler.set_constraint(constraint);
    for (int32_t id : prompt) sampler.accept(id, false);
    tok::StreamDecoder decoder(tok_, o.render_special, true);
    StopFilter stops(o.stop);
    std::vector<float> cur = std::move(logits.value());
    const auto t1 = std::chrono::steady_clock::now();
    auto emit = [&](const std::string& text) {
        if (text.empty()) return true;
        res.text += text;
        return sink ? sink(text) : true;
    };
    while (true) {
        if (o.max_tokens == 0) {
            res.stop_reason = StopReason::Length;
            break;
        }
        if (constraint)
            constraint->set_budget(
                remaining_budget(o, static_cast<int>(res.ids.size()), ctx_.n_ctx() - ctx_.seq_len(0)));
        const auto ts = std::chrono::steady_clock::now();
        auto next = sampler.sample(cur.data());
        res.timings.sample_ms += ms_since(ts);
        if (!next) return next.error();
        const int32_t id = next.value();
        if (!o.ignore_eos && tok_.vocab().is_eog(id)) {
            res.stop_reason = StopReason::Eos;
            break;
        }
        sampler.accept(id);
        res.ids.push_back(id);
        bool hit = false;
        if (!emit(stops.push(decoder.push(id), hit))) {
            res.stop_reason = StopReason::Cancelled;
            break;
        }
        if (hit) {
            res.stop_reason = StopReason::Stop;
            break;
        }
        if (o.max_tokens > 0 && static_cast<int>(res.ids.size()) >= o.max_tokens) {
            res.stop_reason = StopReason::Length;  // the last token need not be evaluated
            break;
        }
        if (ctx_.seq_len(0) >= ctx_.n_ctx()) {
            res.stop_reason = StopReason::Context;
            break;
        }
        std::vector<int32_t> step_tokens{id};
        if (constraint && o.jump_forward) {
            size_t room = static_cast<size_t>(ctx_.n_ctx() - ctx_.seq_len(0) - 1);
            if (o.max_tokens > 0) room = std::min(room, static_cast<size_t>(o.max_tokens) - res.ids.size());
            const auto tj = std::chrono::steady_clock::now();
            const std::vector<int32_t> ft = jump_forward_tokens(*constraint, tok_, room);
            res.timings.sample_ms += ms_since(tj);
            if (!ft.empty()) {
                for (int32_t t : ft) {
                    sampler.accept(t);
                    res.ids.push_back(t);
                    ++res.timings.n_forced;
                    if (!emit(stops.push(decoder.push(t), hit))) {
                        res.stop_reason = StopReason::Cancelled;
                        break;
                    }
                    if (hit) break;
                }
                if (res.stop_reason == StopReason::Cancelled) break;
                if (hit) {
                    res.stop_reason = StopReason::Stop;
                    break;
                }
                step_tokens.insert(step_tokens.end(), ft.begin(), ft.end());
                if (o.max_tokens > 0 && static_cast<int>(res.ids.size()) >= o.max_tokens) {
                    res.stop_reason = StopReason::Length;
                    break;
                }
            }
        }
        if (constraint) prefetch_.start({constraint.get()});
        auto step = ctx_.decode(step_tokens, false);
        prefetch_.wait();
        if (!step) return step.error();
        cached_.insert(cached_.end(), step_tokens.begin(), step_tokens.end());
        cur = std::move(step.value());
    }
    if (res.stop_reason != StopReason::Stop && res.stop_reason != StopReason::Cancelled) {
        bool hit = false;
        emit(stops.push(decoder.finish(), hit));
        if (!hit) emit(stops.flush());
    }
    res.timings.n_generated = static_cast<int>(res.ids.size());
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
