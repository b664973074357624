#include "sampling/grammar/gbnf.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace tf::grammar {

bool CharSet::contains(uint32_t c) const {
    bool in = false;
    for (const auto& [lo, hi] : ranges) {
        if (c >= lo && c <= hi) {
            in = true;
            break;
        }
    }
    return in != negated;
}

bool CharSet::intersects(uint32_t lo, uint32_t hi) const {
    if (!negated) {
        for (const auto& [a, b] : ranges) {
            if (a <= hi && lo <= b) return true;
        }
        return false;
    }
    // Negated: some point of [lo, hi] outside every range (ranges are sorted and disjoint).
    uint32_t c = lo;
    for (const auto& [a, b] : ranges) {
        if (b < c) continue;
        if (a > c) return true;
        if (b >= hi) return false;
        c = b + 1;
    }
    return c <= hi;
}

int Grammar::find(std::string_view name) const {
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return static_cast<int>(i);
    }
    return -1;
}

namespace {

class Parser {
  public:
    Parser(std::string_view text, const GbnfLimits& limits) : s_(text), limits_(limits) {}

    Result<Grammar> run(std::string_view root_name) {
        skip_space(true);
        while (pos_ < s_.size()) {
            if (Status st = parse_rule(); !st) return st.error();
            skip_space(true);
        }
        for (const auto& [name, at] : first_use_) {
            if (!defined_[static_cast<size_t>(rule_id(name))]) {
                return Error{"grammar: rule '" + name + "' is used at " + where(at) + " but never defined"};
            }
        }
        const int root = g_.find(root_name);
        if (root < 0) return Error{"grammar: no '" + std::string(root_name) + "' rule (the start symbol)"};
        g_.root = static_cast<uint32_t>(root);
        if (Status st = check_left_recursion(); !st) return st.error();
        mark_counted();
        return std::move(g_);
    }

  private:
    // Counted from the start, so only for messages: a grammar of 100k references must not pay
    // it per reference (it did: 21 s for a Kubernetes schema's grammar).
    std::string where() const { return where(pos_); }
    std::string where(size_t at) const {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < at && i < s_.size(); ++i) {
            if (s_[i] == '\n') ++line, col = 1;
            else ++col;
        }
        return "line " + std::to_string(line) + ", column " + std::to_string(col);
    }
    Error error(const std::string& what) const { return Error{"grammar: " + what + " at " + where()}; }

    bool at_end() const { return pos_ >= s_.size(); }
    char peek(size_t k = 0) const { return pos_ + k < s_.size() ? s_[pos_ + k] : '\0'; }

    void skip_space(bool newlines) {
        while (!at_end()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || ((c == '\n' || c == '\r') && newlines)) {
                ++pos_;
            } else if (c == '#') {
                while (!at_end() && peek() != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    static bool word_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }

    std::string parse_name() {
        const size_t start = pos_;
        while (!at_end() && word_char(peek())) ++pos_;
        return std::string(s_.substr(start, pos_ - start));
    }

    // By a hash map: Grammar::find walks the names, which made a generated grammar of 30k rules
    // quadratic to parse (2.4 s for a JSON Schema Store schema with open objects).
    int rule_id(const std::string& name) {
        const auto [it, fresh] = ids_.emplace(name, static_cast<int>(g_.names.size()));
        if (!fresh) return it->second;
        g_.names.push_back(name);
        g_.rules.emplace_back();
        defined_.push_back(false);
        return static_cast<int>(g_.names.size() - 1);
    }

    uint32_t new_rule(const std::string& base) {
        const std::string name = base + "~" + std::to_string(g_.names.size());
        g_.names.push_back(name);
        g_.rules.emplace_back();
        defined_.push_back(true);
        return static_cast<uint32_t>(g_.names.size() - 1);
    }

    // One UTF-8 code point or escape inside "…" or […].
    Result<uint32_t> parse_char() {
        if (at_end()) return error("unexpected end of grammar");
        const unsigned char c = static_cast<unsigned char>(peek());
        if (c == '\\') {
            ++pos_;
            const char e = peek();
            ++pos_;
            auto hex = [&](int n) -> Result<uint32_t> {
                uint32_t v = 0;
                for (int i = 0; i < n; ++i, ++pos_) {
                    const char h = peek();
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) return error(std::string("expected ") + std::to_string(n) + " hex digits after \\" + e);
                    v = v * 16 + static_cast<uint32_t>(d);
                }
                if (v > 0x10FFFF) return error("code point beyond U+10FFFF");
                return v;
            };
            switch (e) {
                case 'x': return hex(2);
                case 'u': return hex(4);
                case 'U': return hex(8);
                case 't': return uint32_t('\t');
                case 'r': return uint32_t('\r');
                case 'n': return uint32_t('\n');
                case '\\': case '"': case '[': case ']': case '-': case '^': case '/': return uint32_t(static_cast<unsigned char>(e));
                default: --pos_; return error(std::string("unknown escape \\") + e);
            }
        }
        // UTF-8 decode.
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || pos_ + static_cast<size_t>(len) > s_.size()) return error("invalid UTF-8");
        uint32_t v = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (int i = 1; i < len; ++i) {
            const unsigned char cc = static_cast<unsigned char>(s_[pos_ + static_cast<size_t>(i)]);
            if ((cc & 0xC0) != 0x80) return error("invalid UTF-8");
            v = (v << 6) | (cc & 0x3F);
        }
        pos_ += static_cast<size_t>(len);
        return v;
    }

    uint32_t add_charset(CharSet cs) {
        std::sort(cs.ranges.begin(), cs.ranges.end());
        std::vector<std::pair<uint32_t, uint32_t>> merged;
        for (const auto& r : cs.ranges) {
            if (!merged.empty() && r.first <= merged.back().second + 1) {
                merged.back().second = std::max(merged.back().second, r.second);
            } else {
                merged.push_back(r);
            }
        }
        cs.ranges = std::move(merged);
        g_.charsets.push_back(std::move(cs));
        return static_cast<uint32_t>(g_.charsets.size() - 1);
    }

    // A sequence of alternatives up to ')' (nested) or the end of the rule.
    Result<std::vector<Alternative>> parse_alternatives(const std::string& rule_name, bool nested) {
        std::vector<Alternative> alts(1);
        while (true) {
            skip_space(nested);
            if (at_end()) break;
            const char c = peek();
            if (c == '|') {
                ++pos_;
                alts.emplace_back();
                skip_space(true);
                continue;
            }
            if (c == ')') {
                if (!nested) return error("unexpected ')'");
                break;
            }
            if (c == '\n' || c == '\r') break;  // end of a top-level rule
            Alternative& seq = alts.back();
            const size_t item_start = seq.size();
            if (c == '"') {
                ++pos_;
                while (!at_end() && peek() != '"') {
                    auto ch = parse_char();
                    if (!ch) return ch.error();
                    seq.push_back({Element::Chars, add_charset(CharSet{{{*ch, *ch}}, false})});
                }
                if (at_end()) return error("unterminated string");
                ++pos_;
            } else if (c == '[') {
                ++pos_;
                CharSet cs;
                if (peek() == '^') {
                    cs.negated = true;
                    ++pos_;
                }
                while (!at_end() && peek() != ']') {
                    auto lo = parse_char();
                    if (!lo) return lo.error();
                    uint32_t hi = *lo;
                    if (peek() == '-' && peek(1) != ']') {
                        ++pos_;
                        auto h = parse_char();
                        if (!h) return h.error();
                        hi = *h;
                        if (hi < *lo) return error("empty character range");
                    }
                    cs.ranges.push_back({*lo, hi});
                }
                if (at_end()) return error("unterminated character class");
                ++pos_;
                seq.push_back({Element::Chars, add_charset(std::move(cs))});
            } else if (c == '.') {
                ++pos_;
                seq.push_back({Element::Chars, add_charset(CharSet{{}, true})});
            } else if (c == '(') {
                ++pos_;
                if (++depth_ > kMaxNesting) return error("groups nested deeper than " + std::to_string(kMaxNesting));
                auto inner = parse_alternatives(rule_name, true);
                --depth_;
                if (!inner) return inner.error();
                skip_space(true);
                if (peek() != ')') return error("expected ')'");
                ++pos_;
                const uint32_t r = new_rule(rule_name);
                g_.rules[r] = std::move(inner.value());
                seq.push_back({Element::Rule, r});
            } else if (word_char(c)) {
                const size_t at = pos_;
                const std::string name = parse_name();
                const int id = rule_id(name);
                first_use_.emplace(name, at);
                seq.push_back({Element::Rule, static_cast<uint32_t>(id)});
            } else if (c == '<') {
                return error("token references (<[id]>, <token>) are not supported yet");
            } else {
                return error(std::string("unexpected character '") + c + "'");
            }
            if (Status st = parse_repetition(rule_name, seq, item_start); !st) return st.error();
        }
        return alts;
    }

    // Applies a following *, +, ?, {m,n} to seq[item_start..].
    Status parse_repetition(const std::string& rule_name, Alternative& seq, size_t item_start) {
        const char c = peek();
        if (c != '*' && c != '+' && c != '?' && c != '{') return Status::success();
        uint32_t min = 0, max = UINT32_MAX;  // UINT32_MAX: unbounded
        if (c == '*') {
            ++pos_;
        } else if (c == '+') {
            ++pos_;
            min = 1;
        } else if (c == '?') {
            ++pos_;
            max = 1;
        } else {
            ++pos_;
            skip_space(false);
            auto number = [&](uint32_t& out) {
                const size_t start = pos_;
                uint64_t v = 0;
                while (!at_end() && peek() >= '0' && peek() <= '9') {
                    v = v * 10 + static_cast<uint64_t>(peek() - '0');
                    if (v > limits_.max_repetition) return false;
                    ++pos_;
                }
                out = static_cast<uint32_t>(v);
                return pos_ > start;
            };
            const bool has_min = number(min);
            skip_space(false);
            if (peek() == ',') {
                ++pos_;
                skip_space(false);
                if (!number(max)) max = UINT32_MAX;
            } else {
                if (!has_min) return error("expected a count in {…} (at most " + std::to_string(limits_.max_repetition) + ")");
                max = min;
            }
            skip_space(false);
            if (peek() != '}') return error("expected '}' (counts at most " + std::to_string(limits_.max_repetition) + ")");
            ++pos_;
            if (max != UINT32_MAX && max < min) return error("repetition {m,n} with n < m");
        }
        if (item_start == seq.size()) return error("repetition without anything to repeat");
        // The repeated item as one element (a rule when it is a sequence).
        Element item;
        if (seq.size() - item_start == 1) {
            item = seq.back();
        } else {
            const uint32_t r = new_rule(rule_name);
            g_.rules[r] = {Alternative(seq.begin() + static_cast<long>(item_start), seq.end())};
            item = {Element::Rule, r};
        }
        seq.resize(item_start);
        for (uint32_t i = 0; i < min; ++i) seq.push_back(item);
        if (max == UINT32_MAX) {
            // star ::= item star | ε
            const uint32_t star = new_rule(rule_name);
            g_.rules[star] = {Alternative{item, {Element::Rule, star}}, Alternative{}};
            seq.push_back({Element::Rule, star});
        } else if (max > min) {
            // opt_k ::= item opt_{k-1} | ε, nested so that at most max - min more items follow.
            uint32_t next = UINT32_MAX;
            Chain chain{item, {}};
            for (uint32_t k = 0; k < max - min; ++k) {
                const uint32_t r = new_rule(rule_name);
                Alternative a{item};
                if (next != UINT32_MAX) a.push_back({Element::Rule, next});
                g_.rules[r] = {a, Alternative{}};
                chain.rules.push_back(r);
                next = r;
            }
            chains_.push_back(std::move(chain));
            seq.push_back({Element::Rule, next});
        }
        if (g_.rules.size() > limits_.max_rules) return error("grammar too large after expanding repetitions");
        return Status::success();
    }

    Status parse_rule() {
        const std::string name = parse_name();
        if (name.empty()) return error("expected a rule name");
        skip_space(false);
        if (s_.substr(pos_, 3) != "::=") return error("expected '::=' after '" + name + "'");
        pos_ += 3;
        skip_space(true);
        const int id = rule_id(name);
        if (defined_[static_cast<size_t>(id)]) return error("rule '" + name + "' defined twice");
        auto alts = parse_alternatives(name, false);
        if (!alts) return alts.error();
        g_.rules[static_cast<size_t>(id)] = std::move(alts.value());
        defined_[static_cast<size_t>(id)] = true;
        return Status::success();
    }

    // A rule that can begin with itself (directly, or through rules that may match nothing
    // first) would send a top-down matcher into an endless loop: refuse it.
    Status check_left_recursion() {
        const size_t n = g_.rules.size();
        // As llama.cpp judges it: a rule "may be empty" when one of its alternatives is empty.
        // (A nullable-but-not-empty path, as in ( [x]* )*, is allowed; the matcher cuts the
        // resulting cycles.)
        std::vector<char> nullable(n, 0);
        for (size_t r = 0; r < n; ++r) {
            for (const Alternative& a : g_.rules[r]) nullable[r] |= a.empty() ? 1 : 0;
        }
        std::vector<std::vector<uint32_t>> starts(n);  // rules reachable at the start of r
        for (size_t r = 0; r < n; ++r) {
            for (const Alternative& a : g_.rules[r]) {
                for (const Element& e : a) {
                    if (e.kind == Element::Chars) break;
                    starts[r].push_back(e.index);
                    if (!nullable[e.index]) break;
                }
            }
        }
        std::vector<int> state(n, 0);  // 0 new, 1 on the path, 2 done
        for (uint32_t r0 = 0; r0 < n; ++r0) {
            if (state[r0] != 0) continue;
            // Iterative depth-first search: (rule, next child) frames.
            std::vector<std::pair<uint32_t, size_t>> path{{r0, 0}};
            state[r0] = 1;
            while (!path.empty()) {
                auto& [r, next] = path.back();
                if (next == starts[r].size()) {
                    state[r] = 2;
                    path.pop_back();
                    continue;
                }
                const uint32_t s = starts[r][next++];
                if (state[s] == 1) {
                    const std::string& base = g_.names[s];
                    return Error{"grammar: rule '" + base.substr(0, base.find('~')) + "' is left-recursive (it can begin with itself)"};
                }
                if (state[s] == 0) {
                    state[s] = 1;
                    path.push_back({s, 0});
                }
            }
        }
        return check_growing_left_recursion();
    }

    // The rest of left recursion, which the check above (llama.cpp's rule) lets through: a rule
    // reached again at the start of itself through rules that can match nothing, not in tail
    // position — term ::= ws expr ")" with ws ::= [ ]* and expr ::= term … . Each round of
    // expansion would push another return position: the stacks grow without end. Tail-position
    // cycles, as in ( [x]* )*, repeat the same stack and are cut by the matcher, so they stay
    // allowed. Found as a strongly connected component of the "can begin with" graph (with
    // nullability computed to a fixpoint) that holds a non-tail edge.
    Status check_growing_left_recursion() {
        const size_t n = g_.rules.size();
        const std::vector<char> nullable = nullable_rules();
        struct Edge {
            uint32_t to;
            bool tail;
        };
        std::vector<std::vector<Edge>> edges(n);
        for (size_t r = 0; r < n; ++r) {
            for (const Alternative& a : g_.rules[r]) {
                for (size_t i = 0; i < a.size(); ++i) {
                    if (a[i].kind == Element::Chars) break;
                    edges[r].push_back({a[i].index, i + 1 == a.size()});
                    if (!nullable[a[i].index]) break;
                }
            }
        }
        // Tarjan's strongly connected components, iteratively.
        std::vector<int32_t> index(n, -1), low(n, 0), comp(n, -1);
        std::vector<uint32_t> stack;
        std::vector<char> on_stack(n, 0);
        int32_t next_index = 0, n_comp = 0;
        for (uint32_t root = 0; root < n; ++root) {
            if (index[root] >= 0) continue;
            std::vector<std::pair<uint32_t, size_t>> frames{{root, 0}};
            index[root] = low[root] = next_index++;
            stack.push_back(root);
            on_stack[root] = 1;
            while (!frames.empty()) {
                auto& [v, k] = frames.back();
                if (k < edges[v].size()) {
                    const uint32_t w = edges[v][k++].to;
                    if (index[w] < 0) {
                        index[w] = low[w] = next_index++;
                        stack.push_back(w);
                        on_stack[w] = 1;
                        frames.push_back({w, 0});
                    } else if (on_stack[w]) {
                        low[v] = std::min(low[v], index[w]);
                    }
                    continue;
                }
                if (low[v] == index[v]) {
                    while (true) {
                        const uint32_t w = stack.back();
                        stack.pop_back();
                        on_stack[w] = 0;
                        comp[w] = n_comp;
                        if (w == v) break;
                    }
                    ++n_comp;
                }
                const uint32_t done = v;
                frames.pop_back();
                if (!frames.empty()) low[frames.back().first] = std::min(low[frames.back().first], low[done]);
            }
        }
        for (size_t r = 0; r < n; ++r) {
            for (const Edge& e : edges[r]) {
                if (!e.tail && comp[e.to] == comp[r]) {
                    const std::string& base = g_.names[e.to];
                    return Error{"grammar: rule '" + base.substr(0, base.find('~')) +
                                 "' is left-recursive (it can begin with itself once the rules before it match nothing)"};
                }
            }
        }
        return Status::success();
    }

    // Grammar::counted for the chains of bounded repetitions whose item cannot match nothing
    // (a copy then consumes at least one byte, which is what token masks rely on).
    void mark_counted() {
        const std::vector<char> nullable = nullable_rules();
        g_.counted.assign(g_.rules.size(), Counted{});
        for (const Chain& c : chains_) {
            if (c.item.kind == Element::Rule && nullable[c.item.index]) continue;
            const uint32_t head = c.rules.back();
            for (size_t i = 0; i < c.rules.size(); ++i) g_.counted[c.rules[i]] = {head, static_cast<uint32_t>(i + 1)};
        }
    }

    // Rules that can match the empty string (a fixpoint).
    std::vector<char> nullable_rules() const {
        const size_t n = g_.rules.size();
        std::vector<char> nullable(n, 0);
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r = 0; r < n; ++r) {
                if (nullable[r]) continue;
                for (const Alternative& a : g_.rules[r]) {
                    bool all = true;
                    for (const Element& e : a) all = all && e.kind == Element::Rule && nullable[e.index];
                    if (all) {
                        nullable[r] = 1;
                        changed = true;
                        break;
                    }
                }
            }
        }
        return nullable;
    }

    struct Chain {
        Element item;
        std::vector<uint32_t> rules;  // opt_1 first
    };
    std::vector<Chain> chains_;

    static constexpr int kMaxNesting = 256;
    std::string_view s_;
    const GbnfLimits& limits_;
    size_t pos_ = 0;
    int depth_ = 0;
    Grammar g_;
    std::vector<bool> defined_;
    std::map<std::string, size_t> first_use_;  // offsets
    std::unordered_map<std::string, int> ids_;  // rule names as written (generated ones are new_rule's)
};

}  // namespace

Result<Grammar> parse_gbnf(std::string_view text, std::string_view root, const GbnfLimits& limits) {
    return Parser(text, limits).run(root);
}

}  // namespace tf::grammar
