// Which tokens of a vocabulary may come next under a grammar: the vocabulary's token texts
// in a byte trie, walked depth-first from the matcher's state — a prefix the grammar rejects
// rejects every token below it at once. GrammarConstraint plugs this into the sampler.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampling/grammar/completion_cost.h"
#include "sampling/grammar/matcher.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace tf::grammar {

// Matcher states interned as small ids, with their byte transitions memoized: walking the trie
// from a state the grammar has seen before (inside a string, after every character) is a table
// lookup per node instead of a stack computation. Two things keep new states cheap: a state in
// the middle of a character is its stacks' state plus the bits read so far (no copy of the
// stacks), and a character's successor is computed once per set of stacks that accept it (every
// letter of a JSON string leads to the same state).
class StateTable {
  public:
    explicit StateTable(const Grammar& g) : g_(g) {}
    int32_t intern(const MatchState& s);
    // -1: the byte is rejected. A dense 256-entry row per state, filled on first use, so the
    // trie walk costs an array read per node.
    int32_t next(int32_t state, uint8_t byte) {
        const int32_t t = next_[static_cast<size_t>(state)][byte];
        if (t != kUnknown) return t;
        const int32_t computed = compute(state, byte);  // may grow next_: index again afterwards
        next_[static_cast<size_t>(state)][byte] = computed;
        return computed;
    }
    bool can_end(int32_t state) const { return can_end_[static_cast<size_t>(state)] != 0; }
    // Some stack of the state has popped down to kOpaque (see matcher.h).
    bool opaque(int32_t state) const { return opaque_[static_cast<size_t>(state)] != 0; }
    // Continuation bytes the state still expects (0: between characters).
    uint8_t need(int32_t state) const { return states_[static_cast<size_t>(state)].need; }
    uint32_t partial(int32_t state) const { return states_[static_cast<size_t>(state)].partial; }
    // The stacks of a state between characters; of a state inside one, those of where it began.
    const std::vector<Stack>& stacks(int32_t state) const { return states_[static_cast<size_t>(base_[static_cast<size_t>(state)])].stacks; }
    MatchState full_state(int32_t state) const;
    size_t size() const { return states_.size(); }
    void clear();

  private:
    static constexpr int32_t kUnknown = -2;
    int32_t compute(int32_t state, uint8_t byte);
    int32_t intern_partial(int32_t base, uint32_t cp, uint8_t need, uint8_t len);
    int32_t add(MatchState s, int32_t base);
    const Grammar& g_;
    std::unordered_map<std::string, int32_t> ids_;           // states between characters, by state_key
    std::unordered_map<uint64_t, int32_t> partial_ids_;      // inside a character: base, bits, need, length
    std::unordered_map<uint64_t, int32_t> by_accepting_;     // base and the stacks taking a character → successor
    std::vector<MatchState> states_;                         // inside a character: no stacks (see base_)
    std::vector<int32_t> base_;
    std::vector<std::array<int32_t, 256>> next_;
    std::vector<uint8_t> can_end_, opaque_;
    MatchState scratch_;
};

class TokenTrie {
  public:
    explicit TokenTrie(const tok::Tokenizer& tokenizer);

    // allowed[id] = 1 for every token whose text the grammar accepts after `state`.
    void allowed(const Grammar& g, const MatchState& state, std::vector<uint8_t>& allowed) const;
    // The same as a bitset (bit id % 64 of word id / 64).
    void allowed(StateTable& table, int32_t state, std::vector<uint64_t>& bits) const;
    // For a state whose stacks stand on kOpaque: `accepted` gets the tokens it accepts, and
    // `uncertain` (sorted, none of them accepted) the tokens that go on after a stack has popped
    // down to kOpaque — whether the grammar takes those depends on the entries left out.
    void classify(StateTable& table, int32_t state, std::vector<uint64_t>& accepted, std::vector<int32_t>& uncertain) const;
    // The tokens the grammar accepts after `state` whose end state passes `keep`.
    void allowed_ending(StateTable& table, int32_t state, const std::function<bool(int32_t)>& keep, std::vector<uint64_t>& bits) const;
    const std::string& text(int32_t id) const { return texts_[static_cast<size_t>(id)]; }
    size_t n_tokens() const { return texts_.size(); }
    // The tokens whose text is at least `bytes` long, longest first.
    std::span<const int32_t> at_least(size_t bytes) const;

  private:
    // The tokens the grammar accepts after `state` whose end state passes keep(state).
    template <typename Keep>
    void walk(StateTable& table, int32_t state, const Keep& keep, std::vector<uint64_t>& bits) const;
    // The trie in preorder, flat, so that a walk reads memory front to back: node i has the
    // edge byte byte_[i] from its parent at depth depth_[i], its subtree ends before end_[i],
    // and the tokens ending there are tokens_[tok_begin_[i] .. tok_begin_[i + 1]). Node 0 is
    // the root.
    std::vector<uint8_t> byte_;
    std::vector<uint16_t> depth_;
    std::vector<uint32_t> end_, tok_begin_;
    std::vector<int32_t> tokens_;
    uint16_t max_depth_ = 0;
    std::vector<std::string> texts_;  // generated text of each token; empty for control tokens
    std::vector<int32_t> by_length_;  // tokens with a text, longest first
};

// The masks of one grammar, shared by every constraint that runs it (thread-safe): the states a
// JSON schema's grammar goes through repeat from one document (or request) to the next, so a
// server or a document pipeline walks the vocabulary for each state once, not once per answer.
//
// A state seen for the first time is not walked over the whole vocabulary either: whether a
// token is allowed mostly depends on the top few entries of each stack (inside a JSON string,
// on the string's own rules, whichever property the string belongs to). So each stack's top
// kTopDepth entries, the rest replaced by kOpaque, are classified once per grammar (tokens
// accepted there / rejected there / uncertain: they pop below the top), and a new state costs
// the union of its stacks' accepted sets plus an exact check of their few uncertain tokens.
// The counted copies of a bounded repetition (a string's maxLength: 80 copies of its character
// rule, see Grammar::counted) share one top: a copy that allows k more items is classified as
// the chain's head, which allows more. The verdicts agree for every token shorter than k bytes
// (each copy consumes at least a byte, so such a token cannot tell k from more); the head's
// accepted tokens of k bytes or more are checked exactly.
// Bounded: past kMaxEntries masks (or tops) a cache starts over.
class MaskCache {
  public:
    MaskCache(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie)
        : grammar_(std::move(grammar)), trie_(std::move(trie)), top_table_(*grammar_) {}
    using Mask = std::shared_ptr<const std::vector<uint64_t>>;
    Mask find(const std::string& state_key) const;
    void insert(const std::string& state_key, Mask mask);
    // The mask of `state`, a state of `table` (a constraint's own table over this grammar):
    // found, or computed and inserted. Equal bit for bit to TokenTrie::allowed's.
    Mask mask(StateTable& table, int32_t state);
    // Classifies ahead of time the tops that are expensive to classify on first use: those whose
    // character class is wide (most of the vocabulary gets past it, as inside a JSON string),
    // in every stack context the grammar allows, at most max_tops of them. What a grammar's
    // compilation does for a server or a pipeline, which answer many requests under it;
    // returns how many tops it classified.
    size_t precompute(size_t max_tops = 64);
    size_t size() const;
    const std::shared_ptr<const Grammar>& grammar() const { return grammar_; }
    const CompletionCost& cost();  // built on first use
    const std::shared_ptr<const TokenTrie>& trie() const { return trie_; }

    static constexpr size_t kMaxEntries = 4096;  // 16 KiB each on a 128k vocabulary
    static constexpr size_t kMaxTops = 1024;     // 16 KiB and their uncertain tokens each
    static constexpr size_t kTopDepth = 3;       // a JSON string's own rules: quote, repetition, character
    // Counted copies allowing fewer items keep tops of their own: the head's long accepted
    // tokens would be most of them, and their own classification prunes early.
    static constexpr uint32_t kMinSharedCount = 16;

  private:
    struct Top {
        std::vector<uint64_t> accepted;
        std::vector<int32_t> uncertain;
    };
    struct TopUse {
        std::shared_ptr<const Top> top;
        uint32_t exact_from = UINT32_MAX;  // the top's accepted tokens this long or longer need an exact check
    };
    // The top of `stack` (kTopDepth entries, below them kOpaque), counted copies replaced by
    // their chain's head; returns the shortest token length the replacement may misjudge.
    uint32_t top_key(const Stack& stack, Stack& top) const;
    TopUse top(const Stack& stack);

    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const TokenTrie> trie_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Mask> masks_;
    std::mutex top_mu_;  // guards the two below
    StateTable top_table_;
    std::unordered_map<std::string, std::shared_ptr<const Top>> tops_;
    std::once_flag cost_once_;
    std::unique_ptr<const CompletionCost> cost_;
};

// The key a matcher state is known by (its stacks and any half-read character).
std::string state_key(const MatchState& s);

// The sampler hook: masks what the grammar forbids; end-of-generation tokens only where the
// grammar may end.
class GrammarConstraint : public sampling::Constraint {
  public:
    GrammarConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie, std::vector<int32_t> eog);
    // Sharing the masks of other constraints of the same grammar.
    GrammarConstraint(std::shared_ptr<MaskCache> cache, std::vector<int32_t> eog);
    void apply(float* logits, int64_t n_vocab) override;
    void accept(int32_t token) override;
    void prepare() override { (void)current_mask(); }
    // The bytes the grammar forces from here: while exactly one byte can follow and the grammar
    // cannot end, that byte (an incomplete last character is left out).
    std::string forced_text(size_t max_bytes) override;
    bool can_end() const { return table_.can_end(state_); }
    // Advances over raw text (what a trigger started, see LazyConstraint); false, leaving the
    // constraint unusable, when the grammar rejects it.
    bool accept_text(std::string_view text);
    bool dead() const { return dead_; }
    // Finishing within the token limit (see sampling::Constraint): bytes bound tokens from
    // above, so a state the grammar can leave in B bytes can be left in B tokens.
    void set_budget(int tokens) override { budget_ = tokens; }
    bool fits(int32_t token) override;
    void narrow(float* logits, int64_t n_vocab) override;
    // The fewest bytes that complete the text from the current state (CompletionCost::kInfinite
    // when nothing does).
    uint32_t completion_bytes() { return cost(state_); }

  private:
    std::shared_ptr<MaskCache> shared_;
    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const TokenTrie> trie_;
    std::vector<int32_t> eog_;
    StateTable table_;
    int32_t state_ = 0;  // the matcher's state, as an id of table_
    bool dead_ = false;  // a token the grammar rejects was accepted (cannot happen through apply)
    int budget_ = -1;
    uint32_t cost(int32_t state);
    const std::vector<uint64_t>& current_mask();
    int32_t after(int32_t token);  // the state after a token; -1 when the grammar rejects it
    std::vector<uint32_t> costs_;  // by state id; kUnknownCost until computed
    static constexpr uint32_t kUnknownCost = ~0u;
    std::unordered_map<int32_t, MaskCache::Mask> masks_;  // by state id
};

}  // namespace tf::grammar
