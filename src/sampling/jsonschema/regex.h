// The ECMA-262 regular expressions JSON Schema patterns use, as a GBNF expression for the
// string's content: alternation, groups (capturing or not), classes with ranges and \d \w \s,
// ., quantifiers (* + ? {n} {n,} {n,m}, lazy forms treated alike), escapes. A pattern not
// anchored with ^…$ may match anywhere, so it is wrapped in "any text" on the open sides.
// Backreferences and lookaround are refused with a clear error.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace tf::jsonschema {

// `string_char` is the GBNF expression for one JSON string character (used for '.', negated
// classes and unanchored sides, so the result stays valid inside a JSON string).
Result<std::string> regex_to_gbnf(std::string_view pattern, const std::string& string_char);

}  // namespace tf::jsonschema
