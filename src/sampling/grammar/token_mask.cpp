#include "sampling/grammar/token_mask.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <unordered_set>

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

int32_t StateTable::add(MatchState s, int32_t base) {
    const int32_t id = static_cast<int32_t>(states_.size());
    bool end = s.need == 0 && std::any_of(s.stacks.begin(), s.stacks.end(), [](const Stack& st) { return st.empty(); });
    bool opaque = std::any_of(s.stacks.begin(), s.stacks.end(), [](const Stack& st) { return !st.empty() && st.back() == kOpaque; });
    states_.push_back(std::move(s));
    base_.push_back(base < 0 ? id : base);
    std::array<int32_t, 256> row;
    row.fill(kUnknown);
    next_.push_back(row);
    can_end_.push_back(end ? 1 : 0);
    opaque_.push_back(opaque ? 1 : 0);
    return id;
}

int32_t StateTable::intern(const MatchState& s) {
    if (s.need != 0) {
        MatchState between = s;
        between.partial = 0;
        between.need = 0;
        between.len = 0;
        return intern_partial(intern(between), s.partial, s.need, s.len);
    }
    std::string key = state_key(s);
    auto it = ids_.find(key);
    if (it != ids_.end()) return it->second;
    const int32_t id = add(s, -1);
    ids_.emplace(std::move(key), id);
    return id;
}

int32_t StateTable::intern_partial(int32_t base, uint32_t cp, uint8_t need, uint8_t len) {
    const uint64_t key = (uint64_t(static_cast<uint32_t>(base)) << 32) | (uint64_t(cp) << 5) | (uint64_t(need) << 3) | len;
    auto it = partial_ids_.find(key);
    if (it != partial_ids_.end()) return it->second;
    MatchState s;
    s.partial = cp;
    s.need = need;
    s.len = len;
    const int32_t id = add(std::move(s), base);
    partial_ids_.emplace(key, id);
    return id;
}

MatchState StateTable::full_state(int32_t state) const {
    MatchState m = states_[static_cast<size_t>(base_[static_cast<size_t>(state)])];
    const MatchState& at = states_[static_cast<size_t>(state)];
    m.partial = at.partial;
    m.need = at.need;
    m.len = at.len;
    return m;
}

int32_t StateTable::compute(int32_t state, uint8_t byte) {
    const int32_t base = base_[static_cast<size_t>(state)];
    const MatchState& at = states_[static_cast<size_t>(state)];
    const Utf8Byte u = Matcher::decode(at.partial, at.need, at.len, byte);
    if (!u.valid) return -1;
    const std::vector<Stack>& stacks = states_[static_cast<size_t>(base)].stacks;
    if (u.need > 0) {
        if (!Matcher::possible(g_, stacks, u.lo, u.hi)) return -1;
        return intern_partial(base, u.cp, u.need, u.len);
    }
    uint64_t memo = 0;
    if (stacks.size() <= 32) {
        const uint64_t taking = Matcher::accepting(g_, stacks, u.cp);
        if (taking == 0) return -1;
        memo = (uint64_t(static_cast<uint32_t>(base)) << 32) | taking;
        auto it = by_accepting_.find(memo);
        if (it != by_accepting_.end()) return it->second;
    }
    scratch_.partial = 0;
    scratch_.need = 0;
    scratch_.len = 0;
    // intern may grow states_: `stacks` is not used after it.
    const int32_t id = Matcher::advance(g_, stacks, u.cp, scratch_.stacks) ? intern(scratch_) : -1;
    if (memo != 0) by_accepting_.emplace(memo, id);
    return id;
}

void StateTable::clear() {
    ids_.clear();
    partial_ids_.clear();
    by_accepting_.clear();
    states_.clear();
    base_.clear();
    next_.clear();
    can_end_.clear();
    opaque_.clear();
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
    for (size_t id = 0; id < texts_.size(); ++id) {
        if (!texts_[id].empty()) by_length_.push_back(static_cast<int32_t>(id));
    }
    std::stable_sort(by_length_.begin(), by_length_.end(), [&](int32_t a, int32_t b) { return text(a).size() > text(b).size(); });
}

std::span<const int32_t> TokenTrie::at_least(size_t bytes) const {
    const auto end = std::partition_point(by_length_.begin(), by_length_.end(), [&](int32_t id) { return text(id).size() >= bytes; });
    return {by_length_.data(), static_cast<size_t>(end - by_length_.begin())};
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

template <typename Keep>
void TokenTrie::walk(StateTable& table, int32_t state, const Keep& keep, std::vector<uint64_t>& out) const {
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
        if (tok_begin_[i] < tok_begin_[i + 1] && keep(s)) {
            for (uint32_t k = tok_begin_[i]; k < tok_begin_[i + 1]; ++k) {
                const int32_t id = tokens_[k];
                out[static_cast<size_t>(id) / 64] |= uint64_t(1) << (id % 64);
            }
        }
        ++i;
    }
}

void TokenTrie::allowed(StateTable& table, int32_t state, std::vector<uint64_t>& out) const {
    walk(table, state, [](int32_t) { return true; }, out);
}

void TokenTrie::allowed_ending(StateTable& table, int32_t state, const std::function<bool(int32_t)>& keep, std::vector<uint64_t>& out) const {
    walk(table, state, keep, out);
}

void TokenTrie::classify(StateTable& table, int32_t state, std::vector<uint64_t>& accepted, std::vector<int32_t>& uncertain) const {
    accepted.assign((texts_.size() + 63) / 64, 0);
    uncertain.clear();
    std::vector<int32_t> at(static_cast<size_t>(max_depth_) + 1);
    at[0] = state;
    const uint32_t n = static_cast<uint32_t>(byte_.size());
    uint32_t covered = 0;  // nodes before this one already have their subtree counted uncertain
    for (uint32_t i = 1; i < n;) {
        const uint16_t d = depth_[i];
        const int32_t s = table.next(at[d - 1u], byte_[i]);
        if (s < 0) {
            i = end_[i];
            continue;
        }
        at[d] = s;
        for (uint32_t k = tok_begin_[i]; k < tok_begin_[i + 1]; ++k) {
            const int32_t id = tokens_[k];
            accepted[static_cast<size_t>(id) / 64] |= uint64_t(1) << (id % 64);
        }
        if (i >= covered && table.opaque(s)) {
            // A stack has popped out of the known top: the tokens ending here are accepted (the
            // entries below are a valid continuation), the longer ones depend on those entries.
            uncertain.insert(uncertain.end(), tokens_.begin() + tok_begin_[i + 1], tokens_.begin() + tok_begin_[end_[i]]);
            covered = end_[i];
        }
        ++i;
    }
    std::sort(uncertain.begin(), uncertain.end());
    uncertain.erase(std::unique(uncertain.begin(), uncertain.end()), uncertain.end());
    std::erase_if(uncertain, [&](int32_t id) { return (accepted[static_cast<size_t>(id) / 64] >> (id % 64)) & 1; });
}

uint32_t MaskCache::top_key(const Stack& stack, Stack& top) const {
    top.clear();
    if (stack.size() > kTopDepth) {
        top.push_back(kOpaque);
        top.insert(top.end(), stack.end() - kTopDepth, stack.end());
    } else {
        top = stack;
    }
    uint32_t exact_from = UINT32_MAX;
    const std::vector<Counted>& counted = grammar_->counted;
    for (Pos& p : top) {
        if (p == kOpaque || pos_rule(p) >= counted.size()) continue;
        const Counted c = counted[pos_rule(p)];
        if (c.head == Counted::kNone || c.head == pos_rule(p) || c.count < kMinSharedCount) continue;
        // The same rule but for the count: the same alternative and index exist in the head.
        p = pack_pos(c.head, pos_alt(p), pos_index(p));
        exact_from = std::min(exact_from, c.count);
    }
    return exact_from;
}

MaskCache::TopUse MaskCache::top(const Stack& stack) {
    Stack top;
    const uint32_t exact_from = top_key(stack, top);
    const std::string key(reinterpret_cast<const char*>(top.data()), top.size() * sizeof(Pos));
    std::lock_guard<std::mutex> lock(top_mu_);
    auto it = tops_.find(key);
    if (it != tops_.end()) return {it->second, exact_from};
    if (top_table_.size() > kMaxStates) top_table_.clear();
    if (tops_.size() >= kMaxTops) tops_.clear();
    MatchState s;
    s.stacks.push_back(std::move(top));
    auto fresh = std::make_shared<Top>();
    trie_->classify(top_table_, top_table_.intern(s), fresh->accepted, fresh->uncertain);
    tops_.emplace(key, fresh);
    return {fresh, exact_from};
}

namespace {

bool wide(const CharSet& c) {
    if (c.negated) return true;
    uint64_t n = 0;
    for (const auto& [lo, hi] : c.ranges) n += hi - lo + 1;
    return n >= 26;
}

}  // namespace

size_t MaskCache::precompute(size_t max_tops) {
    const Grammar& g = *grammar_;
    const size_t n_rules = g.rules.size();
    // returns[r]: the entries that can lie right below a position of rule r in a stack; bottom[r]:
    // nothing may (r was entered from the root by tail references only).
    std::vector<std::vector<Pos>> returns(n_rules);
    std::vector<std::vector<uint32_t>> tails(n_rules);  // r is referenced last in these rules
    std::vector<uint8_t> bottom(n_rules, 0);
    bottom[g.root] = 1;
    for (uint32_t r = 0; r < n_rules; ++r) {
        for (uint32_t a = 0; a < g.rules[r].size(); ++a) {
            const Alternative& alt = g.rules[r][a];
            for (uint32_t i = 0; i < alt.size(); ++i) {
                if (alt[i].kind != Element::Rule) continue;
                if (i + 1 < alt.size()) returns[alt[i].index].push_back(pack_pos(r, a, i + 1));
                else tails[alt[i].index].push_back(r);
            }
        }
    }
    constexpr size_t kMaxReturns = 1 << 20;  // bounded work on huge grammars: give up, stay lazy
    // To a fixed point by a worklist: a rule whose set (or bottom) grew passes it on to the
    // rules it is referenced last in. Sorted sets, merged in linear time. (Rounds over every
    // rule took 6,000 rounds of 58k rules, 1.2 s, for a Snowplow schema's grammar.)
    std::vector<std::vector<uint32_t>> dependents(n_rules);
    size_t total = 0;
    for (uint32_t r = 0; r < n_rules; ++r) {
        for (uint32_t p : tails[r]) dependents[p].push_back(r);
        std::sort(returns[r].begin(), returns[r].end());
        returns[r].erase(std::unique(returns[r].begin(), returns[r].end()), returns[r].end());
        total += returns[r].size();
    }
    if (total > kMaxReturns) return 0;
    std::vector<uint32_t> work(n_rules);
    for (uint32_t r = 0; r < n_rules; ++r) work[r] = n_rules - 1 - r;
    std::vector<uint8_t> queued(n_rules, 1);
    std::vector<Pos> merged;
    while (!work.empty()) {
        const uint32_t p = work.back();
        work.pop_back();
        queued[p] = 0;
        for (uint32_t r : dependents[p]) {
            bool grew = false;
            if (bottom[p] && !bottom[r]) bottom[r] = 1, grew = true;
            merged.clear();
            std::set_union(returns[r].begin(), returns[r].end(), returns[p].begin(), returns[p].end(), std::back_inserter(merged));
            if (merged.size() != returns[r].size()) {
                total += merged.size() - returns[r].size();
                if (total > kMaxReturns) return 0;
                returns[r].swap(merged);
                grew = true;
            }
            if (grew && !queued[r]) queued[r] = 1, work.push_back(r);
        }
    }
    // Counted copies share their head's top (top_key): each shared top is collected once.
    std::vector<Stack> keys;
    std::unordered_set<std::string> seen;
    Stack canonical;
    auto add = [&](Stack k) {
        top_key(k, canonical);
        if (seen.emplace(reinterpret_cast<const char*>(canonical.data()), canonical.size() * sizeof(Pos)).second) keys.push_back(std::move(k));
    };
    // Generated rules are numbered inside out (a repetition's outermost copy comes last), so the
    // rules are taken from the last: the copies a generation meets first are classified first.
    for (uint32_t r = static_cast<uint32_t>(n_rules); r-- > 0 && keys.size() < max_tops;) {
        for (uint32_t a = 0; a < g.rules[r].size(); ++a) {
            const Alternative& alt = g.rules[r][a];
            for (uint32_t i = 0; i < alt.size(); ++i) {
                if (alt[i].kind != Element::Chars || !wide(g.charsets[alt[i].index])) continue;
                const Pos p = pack_pos(r, a, i);
                // Stacks bottom first: [kOpaque,] e3, e2, p (kTopDepth entries kept).
                if (bottom[r]) add({p});
                // Stopping at max_tops: a grammar with thousands of contexts (Snowplow schemas)
                // spent a second listing tops it would never classify.
                for (auto it2 = returns[r].rbegin(); it2 != returns[r].rend() && keys.size() < max_tops; ++it2) {
                    const Pos e2 = *it2;
                    const uint32_t r2 = pos_rule(e2);
                    if (bottom[r2]) add({e2, p});
                    for (Pos e3 : returns[r2]) {
                        if (keys.size() >= max_tops) break;
                        const uint32_t r3 = pos_rule(e3);
                        if (bottom[r3]) add({e3, e2, p});
                        if (!returns[r3].empty()) add({kOpaque, e3, e2, p});
                    }
                }
            }
        }
    }
    size_t done = 0;
    for (const Stack& k : keys) {
        if (done == max_tops) break;
        top(k);
        ++done;
    }
    return done;
}

MaskCache::Mask MaskCache::mask(StateTable& table, int32_t state) {
    const MatchState s = table.full_state(state);
    const std::string key = state_key(s);
    if (Mask m = find(key)) return m;
    auto fresh = std::make_shared<std::vector<uint64_t>>();
    // A state whose stacks all stand on narrow character classes is walked in full: the walk
    // prunes at the first bytes, which is cheaper than merging tops. So is one inside a
    // character (rare).
    const Grammar& g = *grammar_;
    const bool any_wide = std::any_of(s.stacks.begin(), s.stacks.end(), [&](const Stack& st) {
        if (st.empty()) return false;
        const Pos p = st.back();
        return wide(g.charsets[g.rules[pos_rule(p)][pos_alt(p)][pos_index(p)].index]);
    });
    if (s.need != 0 || !any_wide) {
        trie_->allowed(table, state, *fresh);
    } else {
        std::vector<uint64_t>& bits = *fresh;
        bits.assign((trie_->n_tokens() + 63) / 64, 0);
        std::vector<TopUse> tops;
        for (const Stack& st : s.stacks) {
            if (st.empty()) continue;  // the grammar may end: no token continues this stack
            TopUse t = top(st);
            auto same = std::find_if(tops.begin(), tops.end(), [&](const TopUse& u) { return u.top == t.top; });
            if (same != tops.end()) {
                same->exact_from = std::min(same->exact_from, t.exact_from);
                continue;
            }
            tops.push_back(std::move(t));
            const std::vector<uint64_t>& a = tops.back().top->accepted;
            for (size_t w = 0; w < bits.size(); ++w) bits[w] |= a[w];
        }
        // Table ids are stable while this runs (tables only grow between constraint steps).
        auto accepts = [&](int32_t id) {
            int32_t cur = state;
            for (char c : trie_->text(id)) {
                cur = table.next(cur, static_cast<uint8_t>(c));
                if (cur < 0) return false;
            }
            return true;
        };
        // Tokens a shared top accepted for a count its state may not allow: decided exactly
        // (against the whole state, so whatever the other tops said).
        for (const TopUse& t : tops) {
            if (t.exact_from == UINT32_MAX) continue;
            for (int32_t id : trie_->at_least(t.exact_from)) {
                const size_t w = static_cast<size_t>(id) / 64;
                const uint64_t bit = uint64_t(1) << (id % 64);
                if (!(t.top->accepted[w] & bit)) continue;
                bits[w] = accepts(id) ? bits[w] | bit : bits[w] & ~bit;
            }
        }
        for (const TopUse& t : tops) {
            for (int32_t id : t.top->uncertain) {
                uint64_t& word = bits[static_cast<size_t>(id) / 64];
                const uint64_t bit = uint64_t(1) << (id % 64);
                if (word & bit) continue;
                if (accepts(id)) word |= bit;
            }
        }
    }
    insert(key, fresh);
    return fresh;
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

const std::vector<uint64_t>& GrammarConstraint::current_mask() {
    if (table_.size() > kMaxStates || masks_.size() > kMaxMasks) {
        // Bounded memory: start the caches over from the current state.
        const MatchState current = table_.full_state(state_);
        table_.clear();
        masks_.clear();
        costs_.clear();
        state_ = table_.intern(current);
    }
    auto it = masks_.find(state_);
    if (it == masks_.end()) {
        // This constraint's first visit of the state: another answer under the same grammar may
        // have computed it already.
        it = masks_.emplace(state_, shared_->mask(table_, state_)).first;
    }
    return *it->second;
}

void GrammarConstraint::apply(float* logits, int64_t n_vocab) {
    const std::vector<uint64_t>& bits = current_mask();
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
        if (table_.need(s) == 0) complete = out.size();
    }
    out.resize(complete);
    return out;
}

const CompletionCost& MaskCache::cost() {
    std::call_once(cost_once_, [&] { cost_ = std::make_unique<const CompletionCost>(*grammar_); });
    return *cost_;
}

uint32_t GrammarConstraint::cost(int32_t state) {
    if (costs_.size() <= static_cast<size_t>(state)) costs_.resize(table_.size(), kUnknownCost);
    uint32_t& c = costs_[static_cast<size_t>(state)];
    if (c != kUnknownCost) return c;
    const CompletionCost& cc = shared_->cost();
    const uint8_t need = table_.need(state);
    if (need == 0) {
        c = cc.stacks(table_.stacks(state));
    } else {
        const uint32_t lo = table_.partial(state) << (6 * need);
        c = cc.inside_char(table_.stacks(state), lo, lo | ((1u << (6 * need)) - 1), need);
    }
    return c;
}

int32_t GrammarConstraint::after(int32_t token) {
    if (token < 0 || static_cast<size_t>(token) >= trie_->n_tokens()) return -1;
    int32_t s = state_;
    for (char ch : trie_->text(token)) {
        s = table_.next(s, static_cast<uint8_t>(ch));
        if (s < 0) return -1;
    }
    return s;
}

bool GrammarConstraint::fits(int32_t token) {
    if (budget_ < 0 || dead_ || std::find(eog_.begin(), eog_.end(), token) != eog_.end()) return true;
    // Already beyond reach (a limit smaller than the shortest answer): nothing to protect.
    if (cost(state_) > static_cast<uint32_t>(budget_)) return true;
    const int32_t s = after(token);
    return s < 0 || cost(s) + 1 <= static_cast<uint32_t>(budget_);
}

void GrammarConstraint::narrow(float* logits, int64_t n_vocab) {
    if (budget_ < 1 || dead_) return;
    const uint32_t left = static_cast<uint32_t>(budget_) - 1;  // after this token (budget_ >= 1 here)
    std::vector<uint64_t> bits;
    trie_->allowed_ending(table_, state_, [&](int32_t s) { return cost(s) <= left; }, bits);
    for (int32_t id : eog_) {  // where the grammar may end, ending always fits
        if (id >= 0 && static_cast<size_t>(id) / 64 < bits.size()) bits[static_cast<size_t>(id) / 64] |= uint64_t(1) << (id % 64);
    }
    const int64_t covered = std::min<int64_t>(static_cast<int64_t>(bits.size()) * 64, n_vocab);
    tf::mask_logits(logits, covered, bits.data());
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
    const int32_t s = after(token);
    if (s < 0) {
        dead_ = true;  // nothing is allowed any more (a caller accepted a masked token)
        return;
    }
    state_ = s;
}

}  // namespace tf::grammar
