// How many bytes a grammar still needs, at the least, to reach an end from a matcher state: the
// measure that lets a constrained answer close its JSON before the token limit instead of being
// cut off in the middle of it (every single byte is a token of the vocabularies we run, so bytes
// bound tokens from above).
#pragma once

#include <cstdint>
#include <vector>

#include "sampling/grammar/matcher.h"

namespace tf::grammar {

class CompletionCost {
  public:
    static constexpr uint32_t kInfinite = 1u << 30;  // nothing completes (or beyond any budget)

    explicit CompletionCost(const Grammar& g);

    // Shortest text the rule derives, in UTF-8 bytes.
    uint32_t rule(uint32_t r) const { return rule_[r]; }
    // Shortest text from a stack entry (the element it points at and the rest of its
    // alternative); kInfinite for kOpaque.
    uint32_t rest(Pos p) const;
    uint32_t stack(const Stack& s) const;
    // A state between characters: the cheapest of its stacks (0 when the grammar may end).
    uint32_t stacks(const std::vector<Stack>& stacks) const;
    // Inside a character whose code point lies in [lo, hi], `need` bytes still to come: those
    // bytes and the rest of the stacks that can take such a code point.
    uint32_t inside_char(const std::vector<Stack>& stacks, uint32_t lo, uint32_t hi, uint8_t need) const;

  private:
    uint32_t element(const Element& e) const;
    const Grammar& g_;
    std::vector<uint32_t> rule_;
    std::vector<uint32_t> charset_;  // UTF-8 length of the smallest member
    std::vector<std::vector<std::vector<uint32_t>>> suffix_;  // [rule][alt][idx]: shortest text from idx to the end
};

}  // namespace tf::grammar
