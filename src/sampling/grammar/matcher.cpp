#include "sampling/grammar/matcher.h"

#include <algorithm>

namespace tf::grammar {

namespace {

constexpr Pos pack(uint32_t rule, uint32_t alt, uint32_t idx) {
    return (Pos(rule) << 40) | (Pos(alt) << 20) | Pos(idx);
}
constexpr uint32_t rule_of(Pos p) { return static_cast<uint32_t>(p >> 40); }
constexpr uint32_t alt_of(Pos p) { return static_cast<uint32_t>((p >> 20) & 0xFFFFF); }
constexpr uint32_t idx_of(Pos p) { return static_cast<uint32_t>(p & 0xFFFFF); }

const Element& element(const Grammar& g, Pos p) { return g.rules[rule_of(p)][alt_of(p)][idx_of(p)]; }

// Expands rule references on top of `s` until every resulting stack has a terminal on top (or
// is empty), appending them to out. A budget bounds pathological ambiguity.
void expand(const Grammar& g, Stack s, std::vector<Stack>& out, size_t& budget) {
    std::vector<Stack> work, seen;  // seen: expanded states, so that empty loops end
    work.push_back(std::move(s));
    while (!work.empty()) {
        Stack st = std::move(work.back());
        work.pop_back();
        // Deep stacks cost more of the budget: work and memory stay bounded even if a grammar
        // grows stacks while expanding (the parser refuses the known ways of doing so).
        const size_t cost = 1 + st.size() / 16;
        if (budget < cost) {
            budget = 0;
            return;
        }
        budget -= cost;
        if (!st.empty() && element(g, st.back()).kind == Element::Rule) {
            if (std::find(seen.begin(), seen.end(), st) != seen.end()) continue;
            seen.push_back(st);
        }
        if (st.empty()) {
            out.push_back(std::move(st));
            continue;
        }
        const Pos p = st.back();
        const Element& e = element(g, p);
        if (e.kind == Element::Chars) {
            out.push_back(std::move(st));
            continue;
        }
        st.pop_back();
        if (idx_of(p) + 1 < g.rules[rule_of(p)][alt_of(p)].size()) st.push_back(pack(rule_of(p), alt_of(p), idx_of(p) + 1));
        const auto& alts = g.rules[e.index];
        for (size_t k = 0; k < alts.size(); ++k) {
            Stack ns = st;
            if (!alts[k].empty()) ns.push_back(pack(e.index, static_cast<uint32_t>(k), 0));
            work.push_back(std::move(ns));
        }
    }
}

void normalize(std::vector<Stack>& stacks) {
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
}

constexpr size_t kBudget = 1 << 16;

}  // namespace

MatchState Matcher::initial(const Grammar& g) {
    MatchState s;
    size_t budget = kBudget;
    for (size_t k = 0; k < g.rules[g.root].size(); ++k) {
        Stack st;
        if (!g.rules[g.root][k].empty()) st.push_back(pack(g.root, static_cast<uint32_t>(k), 0));
        expand(g, std::move(st), s.stacks, budget);
    }
    normalize(s.stacks);
    return s;
}

bool Matcher::step(const Grammar& g, const MatchState& in, uint8_t b, MatchState& out) {
    uint32_t cp;
    uint8_t need, len;
    if (in.need == 0) {
        if (b < 0x80) cp = b, need = 0, len = 1;
        else if ((b >> 5) == 6) cp = b & 0x1F, need = 1, len = 2;
        else if ((b >> 4) == 14) cp = b & 0x0F, need = 2, len = 3;
        else if ((b >> 3) == 30) cp = b & 0x07, need = 3, len = 4;
        else return false;  // a continuation byte or an invalid one cannot start a character
    } else {
        if ((b & 0xC0) != 0x80) return false;
        cp = (in.partial << 6) | (b & 0x3F);
        need = static_cast<uint8_t>(in.need - 1);
        len = in.len;
    }
    // Only shortest-form UTF-8 of scalar values: no overlong forms, no surrogates.
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t lo = cp << (6 * need), hi = lo | ((1u << (6 * need)) - 1);
    lo = std::max(lo, kMin[len]);
    hi = std::min(hi, 0x10FFFFu);
    if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF)) return false;
    if (need > 0) {
        // Incomplete character: keep it if some stack could accept a code point with this prefix.
        bool possible = false;
        for (const Stack& s : in.stacks) {
            if (!s.empty() && g.charsets[element(g, s.back()).index].intersects(lo, hi)) {
                possible = true;
                break;
            }
        }
        if (!possible) return false;
        out.stacks = in.stacks;
        out.partial = cp;
        out.need = need;
        out.len = len;
        return true;
    }
    out.stacks.clear();
    out.partial = 0;
    out.need = 0;
    out.len = 0;
    size_t budget = kBudget;
    for (const Stack& s : in.stacks) {
        if (s.empty()) continue;
        const Pos p = s.back();
        if (!g.charsets[element(g, p).index].contains(cp)) continue;
        Stack ns(s.begin(), s.end() - 1);
        if (idx_of(p) + 1 < g.rules[rule_of(p)][alt_of(p)].size()) ns.push_back(pack(rule_of(p), alt_of(p), idx_of(p) + 1));
        expand(g, std::move(ns), out.stacks, budget);
    }
    normalize(out.stacks);
    return !out.stacks.empty();
}

Matcher::Matcher(std::shared_ptr<const Grammar> grammar) : g_(std::move(grammar)), state_(initial(*g_)) {}

bool Matcher::accept(std::string_view bytes) {
    MatchState cur = state_, next;
    for (char c : bytes) {
        if (!step(*g_, cur, static_cast<uint8_t>(c), next)) return false;
        std::swap(cur, next);
    }
    state_ = std::move(cur);
    return true;
}

bool Matcher::can_end() const {
    if (state_.need != 0) return false;
    return std::any_of(state_.stacks.begin(), state_.stacks.end(), [](const Stack& s) { return s.empty(); });
}

}  // namespace tf::grammar
