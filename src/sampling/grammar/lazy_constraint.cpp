#include "sampling/grammar/lazy_constraint.h"

#include <algorithm>

namespace tf::grammar {

LazyConstraint::LazyConstraint(std::shared_ptr<GrammarConstraint> grammar, std::shared_ptr<const TokenTrie> trie,
                               std::vector<std::string> triggers)
    : grammar_(std::move(grammar)), trie_(std::move(trie)), triggers_(std::move(triggers)) {
    for (const auto& t : triggers_) longest_ = std::max(longest_, t.size());
}

void LazyConstraint::apply(float* logits, int64_t n_vocab) {
    if (active_) grammar_->apply(logits, n_vocab);
}

void LazyConstraint::accept(int32_t token) {
    if (active_) {
        grammar_->accept(token);
        return;
    }
    if (given_up_ || token < 0 || static_cast<size_t>(token) >= trie_->n_tokens()) return;
    // A trigger may straddle tokens: search from where one could begin in the new text.
    const size_t from = text_.size() >= longest_ ? text_.size() - longest_ + 1 : 0;
    text_ += trie_->text(token);
    size_t at = std::string::npos;
    for (const auto& t : triggers_) at = std::min(at, text_.find(t, from));
    if (at == std::string::npos) {
        if (text_.size() > 4 * longest_) text_.erase(0, text_.size() - longest_);  // only the tail matters
        return;
    }
    if (grammar_->accept_text(std::string_view(text_).substr(at))) {
        active_ = true;
    } else {
        given_up_ = true;  // the model wrote the marker in a way no call continues: leave it text
    }
    text_.clear();
}

std::string LazyConstraint::forced_text(size_t max_bytes) { return active_ ? grammar_->forced_text(max_bytes) : std::string(); }

}  // namespace tf::grammar
