#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "sampling/rank.h"

namespace tf::sampling {

namespace {

// Probabilities from logits, in place (max-subtracted, double sum).
void softmax(std::vector<TokenProb>& c) {
    float max = -INFINITY;
    for (const TokenProb& t : c) max = std::max(max, t.logit);
    double sum = 0.0;
    for (TokenProb& t : c) {
        t.p = std::exp(t.logit - max);
        sum += t.p;
    }
    for (TokenProb& t : c) t.p = static_cast<float>(t.p / sum);
}

}  // namespace

Status SamplingParams::validate(int64_t n_vocab) const {
    auto bad = [](const std::string& what) { return Status(Error{what}); };
    if (!std::isfinite(temperature)) return bad("temperature must be a finite number");
    if (!(top_p > 0.0f) || top_p > 1.0f) return bad("top_p must be in (0, 1]");
    if (min_p < 0.0f || min_p > 1.0f) return bad("min_p must be in [0, 1]");
    if (!(typical_p > 0.0f) || typical_p > 1.0f) return bad("typical_p must be in (0, 1]");
    if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty)) return bad("repeat_penalty must be a positive number");
    if (repeat_last_n < -1) return bad("repeat_last_n must be -1 (all), 0 (off) or a count");
    if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty)) return bad("penalties must be finite numbers");
    for (const auto& [id, bias] : logit_bias) {
        if (id < 0 || id >= n_vocab) {
            return bad("logit_bias: token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n_vocab));
        }
        if (std::isnan(bias) || bias == INFINITY) return bad("logit_bias for token " + std::to_string(id) + " must be a number or -inf");
    }
    return Status::success();
}

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab) : p_(params), n_vocab_(n_vocab), rng_(params.seed) {}

void Sampler::accept(int32_t token, bool generated) {
    if (constraint_ && generated) constraint_->accept(token);
    if (p_.repeat_last_n == 0) return;
    history_.push_back(token);
    if (p_.repeat_last_n > 0 && history_.size() > static_cast<size_t>(p_.repeat_last_n)) history_.pop_front();
}

void Sampler::apply_penalties(float* logits) const {
    if (history_.empty() || (p_.repeat_penalty == 1.0f && p_.presence_penalty == 0.0f && p_.frequency_penalty == 0.0f)) return;
    std::unordered_map<int32_t, int> count;
    for (int32_t t : history_) ++count[t];
    for (const auto& [id, n] : count) {
        if (id < 0 || id >= n_vocab_) continue;
        float& l = logits[id];
        l = l <= 0.0f ? l * p_.repeat_penalty : l / p_.repeat_penalty;
        l -= static_cast<float>(n) * p_.frequency_penalty + p_.presence_penalty;
    }
}

Result<int32_t> Sampler::sample(const float* logits) {
    work_.assign(logits, logits + n_vocab_);
    float* l = work_.data();
    for (const auto& [id, bias] : p_.logit_bias) l[id] += bias;
    if (constraint_) constraint_->apply(l, n_vocab_);
    apply_penalties(l);
    auto id = choose(l);
    if (!id || !constraint_ || constraint_->fits(*id)) return id;
    // The choice would leave the constraint unable to finish in the tokens left: choose again
    // among those that can (or keep it when none can, as when every byte token is banned).
    const std::vector<TokenProb> first = cand_;
    constraint_->narrow(l, n_vocab_);
    auto again = choose(l);
    if (again) return again;
    cand_ = first;
    return id;
}

Result<int32_t> Sampler::choose(const float* l) {
    // Greedy is the best candidate; top-k the k best, chosen in one pass over the logits.
    const bool greedy = p_.temperature <= 0.0f;
    if (greedy) {
        top_k_candidates(l, n_vocab_, 1, cand_);
    } else if (p_.top_k > 0) {
        top_k_candidates(l, n_vocab_, static_cast<size_t>(p_.top_k), cand_);
    } else {
        collect_candidates(l, n_vocab_, cand_);
    }
    if (cand_.empty()) return Error{"no token is allowed: every token is banned by the logit biases or the output constraint"};
    if (greedy) {
        cand_[0].p = 1.0f;
        return cand_[0].id;
    }

    bool sorted = false;
    if (p_.typical_p < 1.0f && cand_.size() > 1) {
        // Locally typical sampling: keep the tokens whose surprise is closest to the entropy.
        softmax(cand_);
        double entropy = 0.0;
        for (const TokenProb& t : cand_) {
            if (t.p > 0.0f) entropy -= static_cast<double>(t.p) * std::log(static_cast<double>(t.p));
        }
        std::vector<std::pair<float, size_t>> shifted;
        for (size_t i = 0; i < cand_.size(); ++i) {
            shifted.push_back({static_cast<float>(std::fabs(-std::log(static_cast<double>(cand_[i].p)) - entropy)), i});
        }
        std::sort(shifted.begin(), shifted.end(), [&](const auto& a, const auto& b) {
            return a.first < b.first || (a.first == b.first && cand_[a.second].id < cand_[b.second].id);
        });
        double cum = 0.0;
        size_t keep = shifted.size();
        for (size_t i = 0; i < shifted.size(); ++i) {
            cum += cand_[shifted[i].second].p;
            if (cum > p_.typical_p) {
                keep = i + 1;
                break;
            }
        }
        std::vector<TokenProb> kept;
        for (size_t i = 0; i < keep; ++i) kept.push_back(cand_[shifted[i].second]);
        cand_.swap(kept);
    }
    if (p_.top_p < 1.0f && cand_.size() > 1) {
        sort_ranked(cand_);
        sorted = true;
        softmax(cand_);
        double cum = 0.0;
        for (size_t i = 0; i < cand_.size(); ++i) {
            cum += cand_[i].p;
            if (cum >= p_.top_p) {
                cand_.resize(i + 1);
                break;
            }
        }
    }
    if (p_.min_p > 0.0f && cand_.size() > 1) {
        float max = -INFINITY;
        for (const TokenProb& t : cand_) max = std::max(max, t.logit);
        const float floor = max + std::log(p_.min_p);
        cand_.erase(std::remove_if(cand_.begin(), cand_.end(), [&](const TokenProb& t) { return t.logit < floor; }), cand_.end());
    }
    for (TokenProb& t : cand_) t.logit /= p_.temperature;
    if (!sorted) sort_ranked(cand_);
    softmax(cand_);

    const double r = rng_.uniform();
    double cum = 0.0;
    for (const TokenProb& t : cand_) {
        cum += t.p;
        if (r < cum) return t.id;
    }
    return cand_.back().id;  // r beyond the rounded total
}

}  // namespace tf::sampling
