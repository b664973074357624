// Running a grammar over text, top-down with a set of stacks (one per way the text so far can
// be parsed), one byte at a time: bytes gather into UTF-8 code points, each code point advances
// every stack whose next terminal accepts it. The grammar has no left recursion (gbnf.h checks),
// so expanding rule references always reaches a terminal; an ambiguity budget bounds the work.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "sampling/grammar/gbnf.h"

namespace tf::grammar {

// A position in the grammar: rule, alternative, element index (packed).
using Pos = uint64_t;
using Stack = std::vector<Pos>;  // the top is the next element to match

struct MatchState {
    std::vector<Stack> stacks;  // sorted, unique; an empty stack means "the grammar may end here"
    uint32_t partial = 0;       // code point bits gathered so far
    uint8_t need = 0;           // continuation bytes still expected
    uint8_t len = 0;            // length of the character being gathered
    bool dead() const { return stacks.empty(); }
};

class Matcher {
  public:
    explicit Matcher(std::shared_ptr<const Grammar> grammar);

    const MatchState& state() const { return state_; }
    const Grammar& grammar() const { return *g_; }

    // Feeds bytes; false (state unchanged) when the grammar cannot continue with them.
    bool accept(std::string_view bytes);
    bool can_end() const;  // the text so far is a complete sentence of the grammar

    // The building blocks, for walking many continuations from one state (token masks).
    static MatchState initial(const Grammar& g);
    // out = in followed by byte b; false when no stack survives.
    static bool step(const Grammar& g, const MatchState& in, uint8_t b, MatchState& out);

  private:
    std::shared_ptr<const Grammar> g_;
    MatchState state_;
};

}  // namespace tf::grammar
