// Small text helpers shared by every front end.
#pragma once

#include <cstdint>
#include <string>

namespace tf {

std::string human_bytes(uint64_t bytes);          // "1.50 MiB"
std::string human_count(uint64_t n);              // "1.24 B", "494.03 M", "12.3 K"
std::string format_double(double v, int digits);  // shortest of %.{digits}g

}  // namespace tf
