#include "sampling/jsonschema/regex.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace tf::jsonschema {

namespace {

std::string hex_escape(uint32_t c) {
    char buf[16];
    if (c < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02X", c);
    else if (c < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04X", c);
    else
        std::snprintf(buf, sizeof buf, "\\U%08X", c);
    return buf;
}

// A code point as it may appear inside "…" or […] in GBNF.
std::string gbnf_char(uint32_t c) {
    if (c == '"' || c == '\\' || c == ']' || c == '[' || c == '-' || c == '^' || c < 0x20 || c == 0x7F)
        return hex_escape(c);
    std::string s;
    if (c < 0x80)
        s += static_cast<char>(c);
    else if (c < 0x800)
        s += static_cast<char>(0xC0 | (c >> 6)), s += static_cast<char>(0x80 | (c & 0x3F));
    else if (c < 0x10000)
        s += static_cast<char>(0xE0 | (c >> 12)), s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
            s += static_cast<char>(0x80 | (c & 0x3F));
    else
        s += static_cast<char>(0xF0 | (c >> 18)), s += static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
            s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), s += static_cast<char>(0x80 | (c & 0x3F));
    return s;
}

class RegexParser {
  public:
    RegexParser(std::string_view p, const std::string& any) : p_(p), any_(any) {}

    Result<std::string> run(LengthRange* lengths) {
        bool start = false, end = false;
        if (!p_.empty() && p_[0] == '^') start = true, ++i_;
        std::string_view body = p_;
        if (body.size() > i_ && body.back() == '$' && (body.size() < 2 || body[body.size() - 2] != '\\')) {
            end = true;
            p_ = p_.substr(0, p_.size() - 1);
        }
        auto e = alternation();
        if (!e) return e.error();
        if (i_ != p_.size()) return err("unexpected ')'");
        std::string out = *e;
        if (!start) out = "(" + any_ + ")* " + out;
        if (!end) out = out + " (" + any_ + ")*";
        if (lengths) {
            *lengths = len_;
            if (!start || !end) lengths->max = -1;
            // '.' may be written as half of a surrogate pair ("\ud83d\ude00" is one character).
            if (any_used_) lengths->min = (lengths->min + 1) / 2;
        }
        return "(" + out + ")";
    }

  private:
    Error err(const std::string& what) const {
        return Error{"pattern: " + what + " at offset " + std::to_string(i_) + " of '" + std::string(p_) + "'"};
    }
    bool more() const { return i_ < p_.size(); }

    // The length range of the piece each parsing step last returned (in characters; max -1:
    // unbounded).
    static LengthRange either(LengthRange a, LengthRange b) {
        return {std::min(a.min, b.min), a.max < 0 || b.max < 0 ? -1 : std::max(a.max, b.max)};
    }
    static LengthRange then(LengthRange a, LengthRange b) {
        return {a.min + b.min, a.max < 0 || b.max < 0 ? -1 : a.max + b.max};
    }

    Result<std::string> alternation() {
        std::vector<std::string> alts;
        LengthRange all{0, 0};
        while (true) {
            auto s = sequence();
            if (!s) return s.error();
            all = alts.empty() ? len_ : either(all, len_);
            alts.push_back(*s);
            if (more() && p_[i_] == '|') {
                ++i_;
                continue;
            }
            break;
        }
        len_ = all;
        if (alts.size() == 1) return alts[0];
        std::string out;
        for (const auto& a : alts) out += (out.empty() ? "" : " | ") + a;
        return "(" + out + ")";
    }

    Result<std::string> sequence() {
        std::string out;
        LengthRange total{0, 0};
        while (more() && p_[i_] != '|' && p_[i_] != ')') {
            auto atom = this->atom();
            if (!atom) return atom.error();
            std::string a = *atom;
            LengthRange one = len_;
            if (more()) {
                const char q = p_[i_];
                if (q == '*' || q == '+' || q == '?') {
                    ++i_;
                    a = "(" + a + ")" + q;
                    one = {q == '+' ? one.min : 0, q == '?' ? one.max : (one.max == 0 ? 0 : -1)};
                } else if (q == '{') {
                    const size_t close = p_.find('}', i_);
                    if (close == std::string_view::npos) return err("unterminated {");
                    std::string inner(p_.substr(i_ + 1, close - i_ - 1));
                    bool ok = !inner.empty();
                    for (char c : inner) ok = ok && ((c >= '0' && c <= '9') || c == ',');
                    if (!ok) return err("bad repetition {" + inner + "}");
                    const size_t comma = inner.find(',');
                    const long lo = comma == 0 ? 0 : std::stol(inner.substr(0, comma));
                    if (lo > 10000 || (comma != std::string::npos && comma + 1 < inner.size() &&
                                       std::stol(inner.substr(comma + 1)) > 10000)) {
                        return err("repetition count above 10000");
                    }
                    i_ = close + 1;
                    a = "(" + a + "){" + inner + "}";
                    const long hi = comma == std::string::npos ? lo
                                    : comma + 1 < inner.size() ? std::stol(inner.substr(comma + 1))
                                                               : -1;
                    one = {one.min * lo, hi < 0 ? (one.max == 0 ? 0 : -1) : one.max < 0 ? -1 : one.max * hi};
                }
                if (more() && p_[i_] == '?') ++i_;  // lazy: the same language
            }
            out += (out.empty() ? "" : " ") + a;
            total = then(total, one);
        }
        len_ = total;
        return out.empty() ? std::string("\"\"") : out;
    }

    Result<uint32_t> escape_char(char e) {
        switch (e) {
            case 'n':
                return uint32_t('\n');
            case 't':
                return uint32_t('\t');
            case 'r':
                return uint32_t('\r');
            case 'f':
                return uint32_t('\f');
            case 'v':
                return uint32_t('\v');
            case '0':
                return uint32_t(0);
            case 'u': {
                if (i_ + 4 > p_.size()) return err("short \\u escape");
                const uint32_t v = static_cast<uint32_t>(std::stoul(std::string(p_.substr(i_, 4)), nullptr, 16));
                i_ += 4;
                return v;
            }
            case 'x': {
                if (i_ + 2 > p_.size()) return err("short \\x escape");
                const uint32_t v = static_cast<uint32_t>(std::stoul(std::string(p_.substr(i_, 2)), nullptr, 16));
                i_ += 2;
                return v;
            }
            default:
                if ((e >= '1' && e <= '9') || e == 'k') return err("backreferences are not supported");
                if (e == 'b' || e == 'B') return err("word boundaries are not supported");
                return uint32_t(static_cast<unsigned char>(e));
        }
    }

    // One UTF-8 code point of the pattern.
    uint32_t next_cp() {
        const unsigned char c = static_cast<unsigned char>(p_[i_]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        uint32_t v = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; k < len && i_ + static_cast<size_t>(k) < p_.size(); ++k)
            v = (v << 6) | (static_cast<unsigned char>(p_[i_ + static_cast<size_t>(k)]) & 0x3F);
        i_ += static_cast<size_t>(len);
        return v;
    }

    static std::string class_shorthand(char e) {
        switch (e) {
            case 'd':
                return "0-9";
            case 'w':
                return "a-zA-Z0-9_";
            case 's':
                return " ";  // tabs and newlines would need escapes inside a JSON string
            default:
                return "";
        }
    }

    Result<std::string> atom() {
        const char c = p_[i_];
        if (c == '(') {
            ++i_;
            if (p_.substr(i_, 2) == "?:")
                i_ += 2;
            else if (p_.substr(i_, 1) == "?")
                return err("lookaround and named groups are not supported");
            if (++depth_ > 256) return err("groups nested deeper than 256");
            auto inner = alternation();  // sets len_
            --depth_;
            if (!inner) return inner.error();
            if (!more() || p_[i_] != ')') return err("missing ')'");
            ++i_;
            return "(" + *inner + ")";
        }
        len_ = {1, 1};
        if (c == '[') return char_class();
        if (c == '.') {
            ++i_;
            any_used_ = true;
            return "(" + any_ + ")";
        }
        if (c == '^' || c == '$') return err("anchors inside the pattern are not supported");
        if (c == '\\') {
            ++i_;
            if (!more()) return err("trailing backslash");
            const char e = p_[i_++];
            const std::string sh = class_shorthand(e);
            if (!sh.empty()) return "[" + sh + "]";
            if (e == 'D' || e == 'W' || e == 'S') {
                return "[^" + class_shorthand(static_cast<char>(e + 32)) + "\\\"\\\\\\x00-\\x1F]";
            }
            auto v = escape_char(e);
            if (!v) return v.error();
            return json_literal(*v);
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') return err("nothing to repeat");
        return json_literal(next_cp());
    }

    // The JSON-encoded form of one character of the string's value.
    static std::string json_literal(uint32_t c) {
        if (c == '"') return "\"\\\\\\\"\"";   // GBNF "\\\"": a backslash and a quote
        if (c == '\\') return "\"\\\\\\\\\"";  // GBNF "\\\\": two backslashes
        if (c == '\n') return "\"\\\\n\"";
        if (c == '\t') return "\"\\\\t\"";
        if (c == '\r') return "\"\\\\r\"";
        if (c < 0x20 || c == 0x7F) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "\"\\\\u%04x\"", c);
            return buf;
        }
        return "\"" + gbnf_char(c) + "\"";
    }

    Result<std::string> char_class() {
        ++i_;  // [
        bool negated = false;
        if (more() && p_[i_] == '^') negated = true, ++i_;
        std::string items;
        std::vector<std::pair<uint32_t, uint32_t>> ranges;
        bool first = true;
        while (more() && (p_[i_] != ']' || first)) {
            first = false;
            uint32_t lo;
            if (p_[i_] == '\\') {
                ++i_;
                if (!more()) return err("trailing backslash");
                const char e = p_[i_++];
                if (e == 'd') {
                    ranges.push_back({'0', '9'});
                    continue;
                }
                if (e == 'w') {
                    for (auto r : {std::pair<uint32_t, uint32_t>{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'_', '_'}})
                        ranges.push_back(r);
                    continue;
                }
                if (e == 's') {
                    ranges.push_back({' ', ' '});
                    continue;
                }
                if (e == 'D' || e == 'W' || e == 'S') return err("negated shorthand inside a class is not supported");
                auto v = escape_char(e == 'b' ? 'x' : e);
                if (e == 'b') return err("\\b inside a class is not supported");
                if (!v) return v.error();
                lo = *v;
            } else {
                lo = next_cp();
            }
            uint32_t hi = lo;
            if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
                ++i_;
                if (p_[i_] == '\\') {
                    ++i_;
                    auto v = escape_char(p_[i_++]);
                    if (!v) return v.error();
                    hi = *v;
                } else {
                    hi = next_cp();
                }
                if (hi < lo) return err("empty range in class");
            }
            ranges.push_back({lo, hi});
        }
        if (!more()) return err("unterminated class");
        ++i_;
        // Characters a JSON string cannot hold raw (quote, backslash, controls) are left out.
        for (auto [lo, hi] : ranges) {
            for (uint32_t cut : {0x22u, 0x5Cu, 0x7Fu}) {
                if (lo <= cut && cut <= hi) {
                    if (lo < cut) items += gbnf_char(lo) + (cut - 1 > lo ? "-" + gbnf_char(cut - 1) : "");
                    lo = cut + 1;
                }
            }
            if (lo < 0x20) lo = 0x20;
            if (lo > hi) continue;
            items += gbnf_char(lo);
            if (hi != lo) items += "-" + gbnf_char(hi);
        }
        if (items.empty() && !negated) return err("character class matches nothing a JSON string can hold");
        // Inside a JSON string: never a raw quote, backslash or control character.
        if (negated) return "[^" + items + "\\\"\\\\\\x00-\\x1F\\x7F]";
        return "[" + items + "]";
    }

    std::string_view p_;
    const std::string& any_;
    size_t i_ = 0;
    int depth_ = 0;
    LengthRange len_{0, 0};
    bool any_used_ = false;
};

}  // namespace

Result<std::string> regex_to_gbnf(std::string_view pattern, const std::string& string_char, LengthRange* lengths) {
    return RegexParser(pattern, string_char).run(lengths);
}

}  // namespace tf::jsonschema
