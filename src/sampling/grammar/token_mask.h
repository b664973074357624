// Which tokens of a vocabulary may come next under a grammar: the vocabulary's token texts
// in a byte trie, walked depth-first from the matcher's state — a prefix the grammar rejects
// rejects every token below it at once. GrammarConstraint plugs this into the sampler.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampling/grammar/matcher.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace tf::grammar {

// Matcher states interned as small ids, with their byte transitions memoized: walking the trie
// from a state the grammar has seen before (inside a string, after every character) is a table
// lookup per node instead of a stack computation.
class StateTable {
  public:
    explicit StateTable(const Grammar& g) : g_(g) {}
    int32_t intern(const MatchState& s);
    int32_t next(int32_t state, uint8_t byte);  // -1: the byte is rejected
    size_t size() const { return states_.size(); }
    void clear();

  private:
    const Grammar& g_;
    std::unordered_map<std::string, int32_t> ids_;
    std::vector<MatchState> states_;
    std::unordered_map<uint64_t, int32_t> transitions_;
    MatchState scratch_;
};

class TokenTrie {
  public:
    explicit TokenTrie(const tok::Tokenizer& tokenizer);

    // allowed[id] = 1 for every token whose text the grammar accepts after `state`.
    void allowed(const Grammar& g, const MatchState& state, std::vector<uint8_t>& allowed) const;
    void allowed(StateTable& table, int32_t state, std::vector<uint8_t>& allowed) const;
    const std::string& text(int32_t id) const { return texts_[static_cast<size_t>(id)]; }
    size_t n_tokens() const { return texts_.size(); }

  private:
    struct Node {
        std::vector<std::pair<uint8_t, int32_t>> children;
        std::vector<int32_t> tokens;
    };
    std::vector<Node> nodes_;
    std::vector<std::string> texts_;  // generated text of each token; empty for control tokens
};

// The sampler hook: masks what the grammar forbids; end-of-generation tokens only where the
// grammar may end.
class GrammarConstraint : public sampling::Constraint {
  public:
    GrammarConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie, std::vector<int32_t> eog);
    void apply(float* logits, int64_t n_vocab) override;
    void accept(int32_t token) override;
    const Matcher& matcher() const { return matcher_; }

  private:
    Matcher matcher_;
    std::shared_ptr<const TokenTrie> trie_;
    std::vector<int32_t> eog_;
    StateTable table_;
    std::unordered_map<int32_t, std::vector<uint8_t>> masks_;  // by state id
};

}  // namespace tf::grammar
