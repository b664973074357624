#include "sampling/grammar/token_mask.h"

#include <algorithm>
#include <cmath>

#include "util/mask_logits.h"

namespace tf::grammar {

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

namespace {

constexpr size_t kMaxStates = 1 << 14;  // 1 KiB of transitions each
constexpr size_t kMaxMasks = 1024;     // vocabulary / 8 bytes each

}  // namespace

int32_t StateTable::intern(const MatchState& s) {
    std::string key = state_key(s);
    auto it = ids_.find(key);
    if (it != ids_.end()) return it->second;
    const int32_t id = static_cast<int32_t>(states_.size());
    states_.push_back(s);
    std::array<int32_t, 256> row;
    row.fill(kUnknown);
    next_.push_back(row);
    bool end = s.need == 0;
    if (end) end = std::any_of(s.stacks.begin(), s.stacks.end(), [](const Stack& st) { return st.empty(); });
    can_end_.push_back(end ? 1 : 0);
    ids_.emplace(std::move(key), id);
    return id;
}

int32_t StateTable::compute(int32_t state, uint8_t byte) {
    if (!Matcher::step(g_, states_[static_cast<size_t>(state)], byte, scratch_)) return -1;
    return intern(scratch_);
}

void StateTable::clear() {
    ids_.clear();
    states_.clear();
    next_.clear();
    can_end_.clear();
}

TokenTrie::TokenTrie(const tok::Tokenizer& tokenizer) {
    const tok::Vocab& v = tokenizer.vocab();
    texts_.resize(v.size());
    // Build a pointer trie first, then lay it out flat in preorder.
    struct Node {
        std::vector<std::pair<uint8_t, int32_t>> children;
        std::vector<int32_t> tokens;
    };
    std::vector<Node> nodes(1);
    for (size_t id = 0; id < v.size(); ++id) {
        if (v.is_special(static_cast<int32_t>(id)) && v.tokens[id].type != tok::TokenType::UserDefined) continue;
        std::string text = tokenizer.token_to_piece(static_cast<int32_t>(id), false);
        if (text.empty() || text.size() > 65000) continue;
        int32_t node = 0;
        for (char c : text) {
            const uint8_t b = static_cast<uint8_t>(c);
            auto& ch = nodes[static_cast<size_t>(node)].children;
            auto it = std::find_if(ch.begin(), ch.end(), [&](const auto& e) { return e.first == b; });
            if (it != ch.end()) {
                node = it->second;
            } else {
                const int32_t fresh = static_cast<int32_t>(nodes.size());
                nodes[static_cast<size_t>(node)].children.push_back({b, fresh});
                nodes.emplace_back();
                node = fresh;
            }
        }
        nodes[static_cast<size_t>(node)].tokens.push_back(static_cast<int32_t>(id));
        texts_[id] = std::move(text);
    }
    // Preorder, children by byte value.
    struct Frame {
        int32_t node;
        uint8_t byte;
        uint16_t depth;
        size_t slot;  // index in the flat arrays, for end_
        bool done;
    };
    std::vector<Frame> stack{{0, 0, 0, 0, false}};
    while (!stack.empty()) {
        Frame f = stack.back();
        stack.pop_back();
        if (f.done) {
            end_[f.slot] = static_cast<uint32_t>(byte_.size());
            continue;
        }
        const size_t slot = byte_.size();
        byte_.push_back(f.byte);
        depth_.push_back(f.depth);
        end_.push_back(0);
        tok_begin_.push_back(static_cast<uint32_t>(tokens_.size()));
        Node& n = nodes[static_cast<size_t>(f.node)];
        tokens_.insert(tokens_.end(), n.tokens.begin(), n.tokens.end());
        max_depth_ = std::max(max_depth_, f.depth);
        stack.push_back({f.node, 0, f.depth, slot, true});
        std::sort(n.children.begin(), n.children.end());
        for (auto it = n.children.rbegin(); it != n.children.rend(); ++it) {
            stack.push_back({it->second, it->first, static_cast<uint16_t>(f.depth + 1), 0, false});
        }
    }
    tok_begin_.push_back(static_cast<uint32_t>(tokens_.size()));
}

void TokenTrie::allowed(const Grammar& g, const MatchState& state, std::vector<uint8_t>& out) const {
    out.assign(texts_.size(), 0);
    std::vector<MatchState> at(static_cast<size_t>(max_depth_) + 1);
    at[0] = state;
    const uint32_t n = static_cast<uint32_t>(byte_.size());
    for (uint32_t i = 1; i < n;) {
        const uint16_t d = depth_[i];
        if (!Matcher::step(g, at[d - 1u], byte_[i], at[d])) {
            i = end_[i];
            continue;
        }
        for (uint32_t k = tok_begin_[i]; k < tok_begin_[i + 1]; ++k) out[static_cast<size_t>(tokens_[k])] = 1;
        ++i;
    }
}

void TokenTrie::allowed(StateTable& table, int32_t state, std::vector<uint64_t>& out) const {
    out.assign((texts_.size() + 63) / 64, 0);
    std::vector<int32_t> at(static_cast<size_t>(max_depth_) + 1);
    at[0] = state;
    const uint32_t n = static_cast<uint32_t>(byte_.size());
    for (uint32_t i = 1; i < n;) {
        const uint16_t d = depth_[i];
        const int32_t s = table.next(at[d - 1u], byte_[i]);
        if (s < 0) {
            i = end_[i];  // the grammar rejects this prefix: skip every token below it
            continue;
        }
        at[d] = s;
        for (uint32_t k = tok_begin_[i]; k < tok_begin_[i + 1]; ++k) {
            const int32_t id = tokens_[k];
            out[static_cast<size_t>(id) / 64] |= uint64_t(1) << (id % 64);
        }
        ++i;
    }
}

MaskCache::Mask MaskCache::find(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = masks_.find(key);
    return it == masks_.end() ? nullptr : it->second;
}

void MaskCache::insert(const std::string& key, Mask mask) {
    std::lock_guard<std::mutex> lock(mu_);
    if (masks_.size() >= kMaxEntries) masks_.clear();  // masks in use stay alive through their shared_ptr
    masks_.emplace(key, std::move(mask));
}

size_t MaskCache::size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return masks_.size();
}

GrammarConstraint::GrammarConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                                     std::vector<int32_t> eog)
    : GrammarConstraint(std::make_shared<MaskCache>(std::move(grammar), std::move(trie)), std::move(eog)) {}

GrammarConstraint::GrammarConstraint(std::shared_ptr<MaskCache> cache, std::vector<int32_t> eog)
    : shared_(std::move(cache)), grammar_(shared_->grammar()), trie_(shared_->trie()), eog_(std::move(eog)), table_(*grammar_) {
    state_ = table_.intern(Matcher::initial(*grammar_));
}

void GrammarConstraint::apply(float* logits, int64_t n_vocab) {
    if (table_.size() > kMaxStates || masks_.size() > kMaxMasks) {
        // Bounded memory: start the caches over from the current state.
        const MatchState current = table_.state(state_);
        table_.clear();
        masks_.clear();
        state_ = table_.intern(current);
    }
    auto it = masks_.find(state_);
    if (it == masks_.end()) {
        // This constraint's first visit of the state: another answer under the same grammar may
        // have computed it already.
        const std::string key = state_key(table_.state(state_));
        MaskCache::Mask m = shared_->find(key);
        if (!m) {
            auto fresh = std::make_shared<std::vector<uint64_t>>();
            trie_->allowed(table_, state_, *fresh);
            m = std::move(fresh);
            shared_->insert(key, m);
        }
        it = masks_.emplace(state_, std::move(m)).first;
    }
    const std::vector<uint64_t>& bits = *it->second;
    const bool can_end = !dead_ && table_.can_end(state_);
    std::vector<float> eog_logits;
    for (int32_t id : eog_) eog_logits.push_back(id >= 0 && id < n_vocab ? logits[id] : -INFINITY);
    const int64_t covered = std::min<int64_t>(static_cast<int64_t>(bits.size()) * 64, n_vocab);
    if (dead_) {
        std::fill(logits, logits + covered, -INFINITY);
    } else {
        tf::mask_logits(logits, covered, bits.data());
    }
    for (int64_t i = covered; i < n_vocab; ++i) logits[i] = -INFINITY;
    for (size_t k = 0; k < eog_.size(); ++k) {
        const int32_t id = eog_[k];
        if (id >= 0 && id < n_vocab) logits[id] = can_end ? eog_logits[k] : -INFINITY;
    }
}

std::string GrammarConstraint::forced_text(size_t max_bytes) {
    std::string out;
    if (dead_) return out;
    int32_t s = state_;
    size_t complete = 0;  // bytes up to the last whole character
    while (out.size() < max_bytes && !table_.can_end(s)) {
        int32_t only = -1, next = -1;
        for (int b = 0; b < 256; ++b) {
            const int32_t t = table_.next(s, static_cast<uint8_t>(b));
            if (t < 0) continue;
            if (only >= 0) {
                only = -2;
                break;
            }
            only = b;
            next = t;
        }
        if (only < 0) break;
        out += static_cast<char>(only);
        s = next;
        if (table_.state(s).need == 0) complete = out.size();
    }
    out.resize(complete);
    return out;
}

bool GrammarConstraint::accept_text(std::string_view text) {
    if (dead_) return false;
    int32_t s = state_;
    for (char c : text) {
        s = table_.next(s, static_cast<uint8_t>(c));
        if (s < 0) {
            dead_ = true;
            return false;
        }
    }
    state_ = s;
    return true;
}

void GrammarConstraint::accept(int32_t token) {
    if (std::find(eog_.begin(), eog_.end(), token) != eog_.end()) return;
    if (dead_ || token < 0 || static_cast<size_t>(token) >= trie_->n_tokens()) return;
    int32_t s = state_;
    for (char c : trie_->text(token)) {
        s = table_.next(s, static_cast<uint8_t>(c));
        if (s < 0) {
            dead_ = true;  // nothing is allowed any more (a caller accepted a masked token)
            return;
        }
    }
    state_ = s;
}

}  // namespace tf::grammar
