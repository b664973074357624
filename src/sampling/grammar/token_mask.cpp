#include "sampling/grammar/token_mask.h"

#include <algorithm>
#include <cmath>

namespace tf::grammar {

namespace {

std::string state_key(const MatchState& s) {
    std::string k;
    k.reserve(16 + s.stacks.size() * 32);
    const uint32_t head[3] = {s.partial, s.need, s.len};
    k.append(reinterpret_cast<const char*>(head), sizeof head);
    for (const Stack& st : s.stacks) {
        const uint32_t n = static_cast<uint32_t>(st.size());
        k.append(reinterpret_cast<const char*>(&n), sizeof n);
        k.append(reinterpret_cast<const char*>(st.data()), st.size() * sizeof(Pos));
    }
    return k;
}

constexpr size_t kMaxStates = 1 << 17;
constexpr size_t kMaxMasks = 128;

}  // namespace

int32_t StateTable::intern(const MatchState& s) {
    std::string key = state_key(s);
    auto it = ids_.find(key);
    if (it != ids_.end()) return it->second;
    const int32_t id = static_cast<int32_t>(states_.size());
    states_.push_back(s);
    ids_.emplace(std::move(key), id);
    return id;
}

int32_t StateTable::next(int32_t state, uint8_t byte) {
    const uint64_t key = (uint64_t(static_cast<uint32_t>(state)) << 8) | byte;
    auto it = transitions_.find(key);
    if (it != transitions_.end()) return it->second;
    int32_t result = -1;
    if (Matcher::step(g_, states_[static_cast<size_t>(state)], byte, scratch_)) result = intern(scratch_);
    transitions_.emplace(key, result);
    return result;
}

void StateTable::clear() {
    ids_.clear();
    states_.clear();
    transitions_.clear();
}

TokenTrie::TokenTrie(const tok::Tokenizer& tokenizer) {
    const tok::Vocab& v = tokenizer.vocab();
    texts_.resize(v.size());
    nodes_.emplace_back();
    for (size_t id = 0; id < v.size(); ++id) {
        if (v.is_special(static_cast<int32_t>(id)) && v.tokens[id].type != tok::TokenType::UserDefined) continue;
        std::string text = tokenizer.token_to_piece(static_cast<int32_t>(id), false);
        if (text.empty()) continue;
        int32_t node = 0;
        for (char c : text) {
            const uint8_t b = static_cast<uint8_t>(c);
            auto& ch = nodes_[static_cast<size_t>(node)].children;
            auto it = std::find_if(ch.begin(), ch.end(), [&](const auto& e) { return e.first == b; });
            if (it != ch.end()) {
                node = it->second;
            } else {
                const int32_t fresh = static_cast<int32_t>(nodes_.size());
                nodes_[static_cast<size_t>(node)].children.push_back({b, fresh});
                nodes_.emplace_back();
                node = fresh;
            }
        }
        nodes_[static_cast<size_t>(node)].tokens.push_back(static_cast<int32_t>(id));
        texts_[id] = std::move(text);
    }
}

void TokenTrie::allowed(const Grammar& g, const MatchState& state, std::vector<uint8_t>& out) const {
    out.assign(texts_.size(), 0);
    struct Frame {
        int32_t node;
        MatchState state;
    };
    std::vector<Frame> work;
    work.push_back({0, state});
    MatchState next;
    while (!work.empty()) {
        Frame f = std::move(work.back());
        work.pop_back();
        const Node& n = nodes_[static_cast<size_t>(f.node)];
        if (f.node != 0) {
            for (int32_t id : n.tokens) out[static_cast<size_t>(id)] = 1;
        }
        for (const auto& [b, child] : n.children) {
            if (Matcher::step(g, f.state, b, next)) work.push_back({child, std::move(next)});
        }
    }
}

void TokenTrie::allowed(StateTable& table, int32_t state, std::vector<uint8_t>& out) const {
    out.assign(texts_.size(), 0);
    std::vector<std::pair<int32_t, int32_t>> work{{0, state}};  // (trie node, state id)
    while (!work.empty()) {
        const auto [node, sid] = work.back();
        work.pop_back();
        const Node& n = nodes_[static_cast<size_t>(node)];
        if (node != 0) {
            for (int32_t id : n.tokens) out[static_cast<size_t>(id)] = 1;
        }
        for (const auto& [b, child] : n.children) {
            const int32_t next = table.next(sid, b);
            if (next >= 0) work.push_back({child, next});
        }
    }
}

GrammarConstraint::GrammarConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                                     std::vector<int32_t> eog)
    : matcher_(std::move(grammar)), trie_(std::move(trie)), eog_(std::move(eog)), table_(matcher_.grammar()) {}

void GrammarConstraint::apply(float* logits, int64_t n_vocab) {
    if (table_.size() > kMaxStates || masks_.size() > kMaxMasks) {
        table_.clear();
        masks_.clear();
    }
    const int32_t sid = table_.intern(matcher_.state());
    auto it = masks_.find(sid);
    if (it == masks_.end()) {
        it = masks_.emplace(sid, std::vector<uint8_t>()).first;
        trie_->allowed(table_, sid, it->second);
    }
    const std::vector<uint8_t>& allowed_ = it->second;
    const bool can_end = matcher_.can_end();
    std::vector<float> eog_logits;
    for (int32_t id : eog_) eog_logits.push_back(id >= 0 && id < n_vocab ? logits[id] : -INFINITY);
    for (int64_t i = 0; i < n_vocab; ++i) {
        if (i >= static_cast<int64_t>(allowed_.size()) || !allowed_[static_cast<size_t>(i)]) logits[i] = -INFINITY;
    }
    for (size_t k = 0; k < eog_.size(); ++k) {
        const int32_t id = eog_[k];
        if (id >= 0 && id < n_vocab) logits[id] = can_end ? eog_logits[k] : -INFINITY;
    }
}

void GrammarConstraint::accept(int32_t token) {
    if (std::find(eog_.begin(), eog_.end(), token) != eog_.end()) return;
    if (token >= 0 && static_cast<size_t>(token) < trie_->n_tokens()) matcher_.accept(trie_->text(token));
}

}  // namespace tf::grammar
