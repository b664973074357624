// The ECMA-262 regular expressions JSON Schema patterns use, as a GBNF expression for the
// string's content: alternation, groups (capturing or not), classes with ranges and \d \w \s,
// ., quantifiers (* + ? {n} {n,} {n,m}, lazy forms treated alike), escapes. A pattern not
// anchored with ^…$ may match anywhere, so it is wrapped in "any text" on the open sides.
// Backreferences and lookaround are refused with a clear error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace tf::jsonschema {

// How many characters (code points) the strings of a pattern's grammar have: what makes a
// minLength/maxLength beside the pattern implied, so exact without a counter.
struct LengthRange {
    int64_t min = 0;
    int64_t max = -1;  // -1: unbounded
};

// `string_char` is the GBNF expression for one JSON string character (used for '.' and
// unanchored sides, so the result stays valid inside a JSON string). `lengths`, when given,
// receives a range holding the length of every string the result matches.
Result<std::string> regex_to_gbnf(std::string_view pattern, const std::string& string_char,
                                  LengthRange* lengths = nullptr);

}  // namespace tf::jsonschema
