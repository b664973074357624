// Measures this machine's memory read bandwidth: the roofline of token generation, which reads
// every weight byte once per token.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/thread_pool.h"

namespace tf::kernels {

// Reads a buffer of `bytes` (far larger than the caches) `reps` times with the pool's threads
// (each reads its own slice), with and without software prefetch, and returns the best GB/s
// (1 GB = 1e9 bytes). Both ways, because on some hosts the hardware prefetcher alone reaches
// well under what the memory delivers (and the kernels prefetch).
double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes = size_t(512) << 20, int reps = 5);

// Reads [p, p+n) once and returns a checksum (so the reads cannot be optimised away).
uint64_t stream_read(const void* p, size_t n);
// The same with software prefetch a few KB ahead.
uint64_t stream_read_prefetch(const void* p, size_t n);

}  // namespace tf::kernels
