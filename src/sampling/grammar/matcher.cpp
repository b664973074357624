#include "sampling/grammar/matcher.h"

#include <algorithm>

namespace tf::grammar {

namespace {

const Element& element(const Grammar& g, Pos p) { return g.rules[pos_rule(p)][pos_alt(p)][pos_index(p)]; }

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
        if (!st.empty() && st.back() == kOpaque) {
            out.push_back(std::move(st));
            continue;
        }
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
        if (pos_index(p) + 1 < g.rules[pos_rule(p)][pos_alt(p)].size()) st.push_back(pack_pos(pos_rule(p), pos_alt(p), pos_index(p) + 1));
        const auto& alts = g.rules[e.index];
        for (size_t k = 0; k < alts.size(); ++k) {
            Stack ns = st;
            if (!alts[k].empty()) ns.push_back(pack_pos(e.index, static_cast<uint32_t>(k), 0));
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
        if (!g.rules[g.root][k].empty()) st.push_back(pack_pos(g.root, static_cast<uint32_t>(k), 0));
        expand(g, std::move(st), s.stacks, budget);
    }
    normalize(s.stacks);
    return s;
}

Utf8Byte Matcher::decode(uint32_t partial, uint8_t need_in, uint8_t len_in, uint8_t b) {
    Utf8Byte r;
    uint32_t cp;
    uint8_t need, len;
    if (need_in == 0) {
        if (b < 0x80) cp = b, need = 0, len = 1;
        else if ((b >> 5) == 6) cp = b & 0x1F, need = 1, len = 2;
        else if ((b >> 4) == 14) cp = b & 0x0F, need = 2, len = 3;
        else if ((b >> 3) == 30) cp = b & 0x07, need = 3, len = 4;
        else return r;  // a continuation byte or an invalid one cannot start a character
    } else {
        if ((b & 0xC0) != 0x80) return r;
        cp = (partial << 6) | (b & 0x3F);
        need = static_cast<uint8_t>(need_in - 1);
        len = len_in;
    }
    // Only shortest-form UTF-8 of scalar values: no overlong forms, no surrogates.
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t lo = cp << (6 * need), hi = lo | ((1u << (6 * need)) - 1);
    lo = std::max(lo, kMin[len]);
    hi = std::min(hi, 0x10FFFFu);
    if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF)) return r;
    r.valid = true;
    r.cp = cp;
    r.lo = lo;
    r.hi = hi;
    r.need = need;
    r.len = len;
    return r;
}

bool Matcher::possible(const Grammar& g, const std::vector<Stack>& stacks, uint32_t lo, uint32_t hi) {
    for (const Stack& s : stacks) {
        if (!s.empty() && s.back() != kOpaque && g.charsets[element(g, s.back()).index].intersects(lo, hi)) return true;
    }
    return false;
}

uint64_t Matcher::accepting(const Grammar& g, const std::vector<Stack>& stacks, uint32_t cp) {
    uint64_t m = 0;
    for (size_t i = 0; i < stacks.size() && i < 64; ++i) {
        const Stack& s = stacks[i];
        if (!s.empty() && s.back() != kOpaque && g.charsets[element(g, s.back()).index].contains(cp)) m |= uint64_t(1) << i;
    }
    return m;
}

bool Matcher::advance(const Grammar& g, const std::vector<Stack>& in, uint32_t cp, std::vector<Stack>& out) {
    out.clear();
    size_t budget = kBudget;
    for (const Stack& s : in) {
        if (s.empty() || s.back() == kOpaque) continue;
        const Pos p = s.back();
        if (!g.charsets[element(g, p).index].contains(cp)) continue;
        Stack ns(s.begin(), s.end() - 1);
        if (pos_index(p) + 1 < g.rules[pos_rule(p)][pos_alt(p)].size()) ns.push_back(pack_pos(pos_rule(p), pos_alt(p), pos_index(p) + 1));
        expand(g, std::move(ns), out, budget);
    }
    normalize(out);
    return !out.empty();
}

bool Matcher::step(const Grammar& g, const MatchState& in, uint8_t b, MatchState& out) {
    const Utf8Byte u = decode(in.partial, in.need, in.len, b);
    if (!u.valid) return false;
    if (u.need > 0) {
        // Incomplete character: keep it if some stack could accept a code point with this prefix.
        if (!possible(g, in.stacks, u.lo, u.hi)) return false;
        out.stacks = in.stacks;
        out.partial = u.cp;
        out.need = u.need;
        out.len = u.len;
        return true;
    }
    out.partial = 0;
    out.need = 0;
    out.len = 0;
    return advance(g, in.stacks, u.cp, out.stacks);
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
