// Integer bounds as grammar: the decimal numerals (no leading zeros, no "-0") of the integers
// in [lo, hi], either end open (an open end stops at 16 digits, as llama.cpp's converter).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tf::jsonschema {

// A GBNF expression (no rule references) matching exactly the integers in the range; nullopt
// ends are unbounded. lo > hi gives an expression that matches nothing is not allowed: the
// caller checks.
std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);

}  // namespace tf::jsonschema
