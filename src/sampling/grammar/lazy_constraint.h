// A grammar that applies only from a trigger on: free text until the output contains one of the
// trigger strings (a tool-call marker such as "<tool_call>"), then the grammar — which must
// start with that trigger — from the trigger's first byte. This is how tool_choice "auto" lets a
// model answer in words or call a tool, with every call it starts forced to be well formed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sampling/grammar/token_mask.h"
#include "sampling/sampler.h"

namespace tf::grammar {

class LazyConstraint : public sampling::Constraint {
  public:
    LazyConstraint(std::shared_ptr<GrammarConstraint> grammar, std::shared_ptr<const TokenTrie> trie, std::vector<std::string> triggers);
    void apply(float* logits, int64_t n_vocab) override;
    void accept(int32_t token) override;
    void prepare() override {
        if (active_) grammar_->prepare();
    }
    std::string forced_text(size_t max_bytes) override;
    // The limit concerns the call once one has begun; free text can stop anywhere.
    void set_budget(int tokens) override { grammar_->set_budget(tokens); }
    bool fits(int32_t token) override { return !active_ || grammar_->fits(token); }
    void narrow(float* logits, int64_t n_vocab) override {
        if (active_) grammar_->narrow(logits, n_vocab);
    }
    bool active() const { return active_; }

  private:
    std::shared_ptr<GrammarConstraint> grammar_;
    std::shared_ptr<const TokenTrie> trie_;
    std::vector<std::string> triggers_;
    size_t longest_ = 0;  // of the triggers
    std::string text_;  // the free text so far (only its tail is searched)
    bool active_ = false;
    bool given_up_ = false;  // the text after a trigger did not fit the grammar: free text again
};

}  // namespace tf::grammar
