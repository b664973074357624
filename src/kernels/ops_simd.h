// The vector paths of ops.cpp (ops_avx512.cpp): each does the leading whole vectors of its
// input and returns how many elements that was; the caller finishes the rest. Declared here
// so that tests can compare every ISA's path with the scalar one on any CPU that has it.
#pragma once

#include <cstdint>

namespace tf::kernels {
namespace avx512 {
int64_t swiglu(const float* gate, const float* up, int64_t n, float* out);
}  // namespace avx512
namespace avx2 {
int64_t swiglu(const float* gate, const float* up, int64_t n, float* out);
}  // namespace avx2
}  // namespace tf::kernels
