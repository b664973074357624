#include "sampling/grammar/completion_cost.h"

#include <algorithm>
#include <queue>

namespace tf::grammar {

namespace {

uint32_t utf8_length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// The smallest code point of a set (kInfinite when it has none).
uint32_t smallest_member(const CharSet& cs) {
    if (!cs.negated) return cs.ranges.empty() ? CompletionCost::kInfinite : cs.ranges.front().first;
    uint32_t c = 0;
    for (const auto& [lo, hi] : cs.ranges) {  // sorted, non-overlapping
        if (c < lo) break;
        if (c <= hi) c = hi + 1;
    }
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xE000;
    return c > 0x10FFFF ? CompletionCost::kInfinite : c;
}

uint32_t add(uint32_t a, uint32_t b) { return std::min(a + b, CompletionCost::kInfinite); }

}  // namespace

CompletionCost::CompletionCost(const Grammar& g) : g_(g), rule_(g.rules.size(), kInfinite) {
    charset_.reserve(g.charsets.size());
    for (const CharSet& cs : g.charsets) {
        const uint32_t c = smallest_member(cs);
        charset_.push_back(c == kInfinite ? kInfinite : utf8_length(c));
    }
    // Shortest derivations, Knuth's generalization of Dijkstra's algorithm: an alternative
    // becomes a candidate for its rule once all its rules are settled, and rules settle in
    // order of length — O(E log E) whatever the order or depth of the rules.
    struct Occurrence {
        uint32_t rule, alt;
    };
    std::vector<std::vector<Occurrence>> uses(g.rules.size());
    std::vector<std::vector<uint32_t>> pending(g.rules.size()), known(g.rules.size());
    using Item = std::pair<uint32_t, uint32_t>;  // length, rule
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    for (uint32_t r = 0; r < g.rules.size(); ++r) {
        pending[r].assign(g.rules[r].size(), 0);
        known[r].assign(g.rules[r].size(), 0);
        for (uint32_t a = 0; a < g.rules[r].size(); ++a) {
            for (const Element& e : g.rules[r][a]) {
                if (e.kind == Element::Chars) {
                    known[r][a] = add(known[r][a], charset_[e.index]);
                } else {
                    uses[e.index].push_back({r, a});
                    ++pending[r][a];
                }
            }
            if (pending[r][a] == 0 && known[r][a] < kInfinite) queue.push({known[r][a], r});
        }
    }
    std::vector<uint8_t> settled(g.rules.size(), 0);
    while (!queue.empty()) {
        const auto [len, r] = queue.top();
        queue.pop();
        if (settled[r]) continue;
        settled[r] = 1;
        rule_[r] = len;
        for (const Occurrence& o : uses[r]) {
            known[o.rule][o.alt] = add(known[o.rule][o.alt], len);
            if (--pending[o.rule][o.alt] == 0 && !settled[o.rule] && known[o.rule][o.alt] < kInfinite) {
                queue.push({known[o.rule][o.alt], o.rule});
            }
        }
    }
    suffix_.resize(g.rules.size());
    for (size_t r = 0; r < g.rules.size(); ++r) {
        suffix_[r].resize(g.rules[r].size());
        for (size_t a = 0; a < g.rules[r].size(); ++a) {
            const Alternative& alt = g.rules[r][a];
            auto& s = suffix_[r][a];
            s.assign(alt.size() + 1, 0);
            for (size_t i = alt.size(); i-- > 0;) s[i] = add(s[i + 1], element(alt[i]));
        }
    }
}

uint32_t CompletionCost::element(const Element& e) const { return e.kind == Element::Chars ? charset_[e.index] : rule_[e.index]; }

uint32_t CompletionCost::rest(Pos p) const {
    if (p == kOpaque) return kInfinite;
    return suffix_[pos_rule(p)][pos_alt(p)][pos_index(p)];
}

uint32_t CompletionCost::stack(const Stack& s) const {
    uint32_t total = 0;
    for (Pos p : s) total = add(total, rest(p));
    return total;
}

uint32_t CompletionCost::stacks(const std::vector<Stack>& stacks) const {
    uint32_t best = kInfinite;
    for (const Stack& s : stacks) best = std::min(best, stack(s));
    return best;
}

uint32_t CompletionCost::inside_char(const std::vector<Stack>& stacks, uint32_t lo, uint32_t hi, uint8_t need) const {
    uint32_t best = kInfinite;
    for (const Stack& s : stacks) {
        if (s.empty() || s.back() == kOpaque) continue;
        const Pos top = s.back();
        const Element& e = g_.rules[pos_rule(top)][pos_alt(top)][pos_index(top)];
        if (e.kind != Element::Chars || !g_.charsets[e.index].intersects(lo, hi)) continue;
        // The top's own character is the one being read: what follows it, and what lies below.
        uint32_t after = suffix_[pos_rule(top)][pos_alt(top)][pos_index(top) + 1];
        for (size_t i = 0; i + 1 < s.size(); ++i) after = add(after, rest(s[i]));
        best = std::min(best, after);
    }
    return add(best, need);
}

}  // namespace tf::grammar
