// GBNF, the grammar language of llama.cpp users: rules of alternatives over code-point
// terminals ("text", [a-z], [^"], .), rule references, groups and repetition (* + ? {m,n}).
// parse_gbnf turns the text into a Grammar whose repetitions are rewritten as plain
// (right-recursive) rules, and checks it: every referenced rule defined, a root rule, no left
// recursion (which a top-down matcher could not run). Errors name the line and column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace tf::grammar {

// A set of code points: sorted, non-overlapping inclusive ranges, possibly negated.
struct CharSet {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    bool negated = false;
    bool contains(uint32_t c) const;
    bool intersects(uint32_t lo, uint32_t hi) const;  // any member in [lo, hi]
};

struct Element {
    enum Kind : uint8_t { Chars, Rule } kind;
    uint32_t index;  // into Grammar::charsets or Grammar::rules
};

using Alternative = std::vector<Element>;

// A bounded repetition x{m,n} becomes a chain of rules opt_k ::= x opt_{k-1} | ε (k = n-m
// down to 1), the same rule but for how many more copies of x it allows. A rule of such a
// chain knows the chain's head (its largest k) and its own k, so that token masks can classify
// one copy for all of them (token_mask.h). Only chains whose item always consumes input.
struct Counted {
    static constexpr uint32_t kNone = UINT32_MAX;
    uint32_t head = kNone;  // kNone: not a counted copy
    uint32_t count = 0;     // copies of the item this rule still allows
};

struct Grammar {
    std::vector<std::string> names;                 // one per rule; generated rules get "name~N"
    std::vector<std::vector<Alternative>> rules;    // alternatives of each rule
    std::vector<CharSet> charsets;
    std::vector<Counted> counted;                   // one per rule
    uint32_t root = 0;

    int find(std::string_view name) const;  // -1 when absent
};

struct GbnfLimits {
    size_t max_rules = 100000;     // after expanding repetitions
    uint32_t max_repetition = 10000;
};

Result<Grammar> parse_gbnf(std::string_view text, std::string_view root = "root", const GbnfLimits& limits = {});

}  // namespace tf::grammar
