#include "sampling/jsonschema/int_range.h"

#include <vector>

namespace tf::jsonschema {

namespace {

std::string digit_class(char a, char b) {
    if (a == b) return std::string("\"") + a + "\"";
    return std::string("[") + a + "-" + b + "]";
}

// Numerals of exactly a.size() digits between a and b (same length, a <= b), leading zeros
// allowed (the caller controls the first digit).
void same_length(const std::string& a, const std::string& b, std::vector<std::string>& out, const std::string& prefix) {
    if (a.empty()) {
        out.push_back(prefix.empty() ? "\"\"" : prefix);
        return;
    }
    size_t i = 0;
    while (i < a.size() && a[i] == b[i]) ++i;
    std::string p = prefix;
    if (i > 0) p += (p.empty() ? "" : " ") + std::string("\"") + a.substr(0, i) + "\"";
    if (i == a.size()) {
        out.push_back(p.empty() ? "\"\"" : p);
        return;
    }
    const std::string ra = a.substr(i + 1), rb = b.substr(i + 1);
    const size_t rest = ra.size();
    auto join = [](const std::string& x, const std::string& y) { return x.empty() ? y : x + " " + y; };
    const bool a_low = ra.find_first_not_of('0') == std::string::npos;  // a's tail is all zeros
    const bool b_high = rb.find_first_not_of('9') == std::string::npos;
    const char lo_digit = a_low ? a[i] : static_cast<char>(a[i] + 1);
    const char hi_digit = b_high ? b[i] : static_cast<char>(b[i] - 1);
    if (!a_low) same_length(ra, std::string(rest, '9'), out, join(p, digit_class(a[i], a[i])));
    if (lo_digit <= hi_digit) {
        std::string e = join(p, digit_class(lo_digit, hi_digit));
        if (rest > 0) e += " [0-9]{" + std::to_string(rest) + "}";
        out.push_back(e);
    }
    if (!b_high) same_length(std::string(rest, '0'), rb, out, join(p, digit_class(b[i], b[i])));
}

// Non-negative integers in [lo, hi] (hi < 0: unbounded), as alternatives.
void non_negative(uint64_t lo, int64_t hi_or_neg, std::vector<std::string>& out) {
    const std::string ls = std::to_string(lo);
    if (hi_or_neg >= 0 && static_cast<uint64_t>(hi_or_neg) < lo) return;
    const size_t max_len = hi_or_neg >= 0 ? std::to_string(hi_or_neg).size() : ls.size();
    for (size_t len = ls.size(); len <= max_len; ++len) {
        std::string a = len == ls.size() ? ls : "1" + std::string(len - 1, '0');
        if (len == 1 && len != ls.size()) a = "0";
        std::string b = std::string(len, '9');
        if (hi_or_neg >= 0 && len == max_len) b = std::to_string(hi_or_neg);
        if (a.size() != len) continue;
        same_length(a, b, out, "");
    }
    if (hi_or_neg < 0) {
        // Any numeral longer than lo's, up to 16 digits (llama.cpp's limit for open ranges).
        if (ls.size() < 16) out.push_back("[1-9] [0-9]{" + std::to_string(ls.size()) + "," + std::to_string(15) + "}");
    }
}

std::string alternatives(const std::vector<std::string>& v) {
    if (v.empty()) return "";
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " | ") + x;
    return "(" + s + ")";
}

}  // namespace

std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
    std::vector<std::string> parts;
    // Negative part: -x for x in [max(1, -hi), -lo].
    if (!lo || *lo < 0) {
        const uint64_t nlo = hi && *hi < 0 ? static_cast<uint64_t>(-(*hi + 1)) + 1 : 1;
        const int64_t nhi = lo ? (*lo == INT64_MIN ? INT64_MAX : -*lo) : -1;
        std::vector<std::string> neg;
        non_negative(nlo, nhi, neg);
        if (!neg.empty()) parts.push_back("\"-\" " + alternatives(neg));
    }
    if (!hi || *hi >= 0) {
        const uint64_t plo = lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0;
        non_negative(plo, hi ? *hi : -1, parts);
    }
    return alternatives(parts);
}

}  // namespace tf::jsonschema
