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
constexpr Pos pack_pos(uint32_t rule, uint32_t alt, uint32_t idx) { return (Pos(rule) << 40) | (Pos(alt) << 20) | Pos(idx); }
constexpr uint32_t pos_rule(Pos p) { return static_cast<uint32_t>(p >> 40); }
constexpr uint32_t pos_alt(Pos p) { return static_cast<uint32_t>((p >> 20) & 0xFFFFF); }
constexpr uint32_t pos_index(Pos p) { return static_cast<uint32_t>(p & 0xFFFFF); }
using Stack = std::vector<Pos>;  // the top is the next element to match
// Stands for the entries of a stack left out (token masks are computed from the top of each
// stack, see token_mask.h): it matches nothing, and a stack that has popped down to it has
// left the part of the grammar the computation knows.
constexpr Pos kOpaque = ~Pos(0);

struct MatchState {
    std::vector<Stack> stacks;  // sorted, unique; an empty stack means "the grammar may end here"
    uint32_t partial = 0;       // code point bits gathered so far
    uint8_t need = 0;           // continuation bytes still expected
    uint8_t len = 0;            // length of the character being gathered
    bool dead() const { return stacks.empty(); }
};

// One byte read into a UTF-8 character: its code point bits so far, the code points they can
// still become ([lo, hi]), the continuation bytes still expected. Not valid: no well-formed
// shortest-form scalar value goes on so.
struct Utf8Byte {
    bool valid = false;
    uint32_t cp = 0, lo = 0, hi = 0;
    uint8_t need = 0, len = 0;
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
    // step's parts. decode: the byte after a character's first (len - need) bytes gathered in
    // `partial`. possible: some stack can take a code point in [lo, hi]. accepting: bit i set
    // when stack i (of the first 64) takes cp — what advance's result depends on, and all it
    // depends on. advance: the stacks after the code point cp; false when none survives.
    static Utf8Byte decode(uint32_t partial, uint8_t need, uint8_t len, uint8_t b);
    static bool possible(const Grammar& g, const std::vector<Stack>& stacks, uint32_t lo, uint32_t hi);
    static uint64_t accepting(const Grammar& g, const std::vector<Stack>& stacks, uint32_t cp);
    static bool advance(const Grammar& g, const std::vector<Stack>& in, uint32_t cp, std::vector<Stack>& out);

  private:
    std::shared_ptr<const Grammar> g_;
    MatchState state_;
};

}  // namespace tf::grammar
