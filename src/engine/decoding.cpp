#include "engine/decoding.h"

#include <algorithm>
#include <chrono>

#include "engine/jump_forward.h"

namespace tf::engine {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Decoding::Decoding(const tok::Tokenizer& tokenizer, const GenerateOptions& options,
                   std::shared_ptr<sampling::Constraint> constraint, int64_t n_vocab,
                   const std::vector<int32_t>& prompt)
    : tok_(tokenizer),
      o_(options),
      constraint_(std::move(constraint)),
      sampler_(options.sampling, n_vocab),
      decoder_(tokenizer, options.render_special, true),
      stops_(options.stop) {
    if (constraint_) sampler_.set_constraint(constraint_);
    for (int32_t id : prompt) sampler_.accept(id, false);
}

Result<int32_t> Decoding::choose(const float* logits, int context_room) {
    const auto t0 = std::chrono::steady_clock::now();
    if (constraint_) constraint_->set_budget(remaining_budget(o_, static_cast<int>(generated_.size()), context_room));
    auto id = sampler_.sample(logits);
    sample_ms_ += ms_since(t0);
    return id;
}

Decoding::Step Decoding::advance(int32_t id, int context_len, int n_ctx) {
    Step s;
    if (!o_.ignore_eos && tok_.vocab().is_eog(id)) {
        s.end = StopReason::Eos;
        return s;
    }
    auto limit_reached = [&] { return o_.max_tokens >= 0 && static_cast<int>(generated_.size()) >= o_.max_tokens; };
    sampler_.accept(id);
    generated_.push_back(id);
    bool hit = false;
    s.text = stops_.push(decoder_.push(id), hit);
    if (hit) {
        s.end = StopReason::Stop;
        return s;
    }
    if (limit_reached()) {
        s.end = StopReason::Length;  // the last token need not be evaluated
        return s;
    }
    if (context_len >= n_ctx) {
        s.end = StopReason::Context;
        return s;
    }
    s.evaluate.push_back(id);
    // Jump-forward (not with logprobs, which forced tokens do not have): the grammar's only
    // continuation joins the chosen token in the next pass, within the context and the limit.
    if (!constraint_ || !o_.jump_forward || o_.logprobs >= 0) return s;
    size_t room = static_cast<size_t>(std::max(0, n_ctx - context_len - 1));
    if (o_.max_tokens >= 0)
        room = std::min(room, static_cast<size_t>(std::max(0, o_.max_tokens - static_cast<int>(generated_.size()))));
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> forced = jump_forward_tokens(*constraint_, tok_, room);
    sample_ms_ += ms_since(t0);
    for (int32_t t : forced) {
        sampler_.accept(t);
        generated_.push_back(t);
        ++n_forced_;
        s.text += stops_.push(decoder_.push(t), hit);
        if (hit) {
            s.end = StopReason::Stop;
            return s;
        }
    }
    if (!forced.empty() && limit_reached()) {
        s.end = StopReason::Length;
        return s;
    }
    s.evaluate.insert(s.evaluate.end(), forced.begin(), forced.end());
    return s;
}

std::string Decoding::finish(StopReason reason) {
    if (reason == StopReason::Stop || reason == StopReason::Cancelled) return "";
    bool hit = false;
    std::string text = stops_.push(decoder_.finish(), hit);
    if (!hit) text += stops_.flush();
    return text;
}

}  // namespace tf::engine
