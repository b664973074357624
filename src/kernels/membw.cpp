#include "kernels/membw.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tf::kernels {

namespace {

#if defined(__x86_64__)
template <bool kPrefetch>
__attribute__((target("avx2"))) uint64_t stream_read_avx2(const void* p, size_t n) {
    const auto* v = static_cast<const __m256i*>(p);
    const auto* bytes = static_cast<const char*>(p);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0, nv = n / 32;
    for (; i + 4 <= nv; i += 4) {
        if constexpr (kPrefetch) {
            _mm_prefetch(bytes + i * 32 + 4096, _MM_HINT_T0);
            _mm_prefetch(bytes + i * 32 + 4096 + 64, _MM_HINT_T0);
        }
        a0 = _mm256_xor_si256(a0, _mm256_load_si256(v + i));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256(v + i + 1));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256(v + i + 2));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256(v + i + 3));
    }
    a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    uint64_t out[4];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), a0);
    return out[0] ^ out[1] ^ out[2] ^ out[3];
}
#endif

uint64_t stream_read_plain(const void* p, size_t n) {
    const auto* v = static_cast<const uint64_t*>(p);
    uint64_t a = 0, b = 0;
    for (size_t i = 0; i + 2 <= n / 8; i += 2) {
        a ^= v[i];
        b ^= v[i + 1];
    }
    return a ^ b;
}

}  // namespace

uint64_t stream_read(const void* p, size_t n) {
#if defined(__x86_64__)
    if (isa_supported(Isa::Avx2)) return stream_read_avx2<false>(p, n);
#endif
    return stream_read_plain(p, n);
}

uint64_t stream_read_prefetch(const void* p, size_t n) {
#if defined(__x86_64__)
    if (isa_supported(Isa::Avx2)) return stream_read_avx2<true>(p, n);
#endif
    return stream_read_plain(p, n);
}

double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes, int reps) {
    const size_t align = 4096;
    bytes = bytes / align * align;
    std::unique_ptr<uint8_t, void (*)(void*)> buf(static_cast<uint8_t*>(std::aligned_alloc(align, bytes)), std::free);
    const int threads = pool.size();
    const size_t slice = bytes / static_cast<size_t>(threads) / align * align;
    // Each thread touches its own slice first, so pages live near the thread that reads them.
    pool.run(threads, [&](int64_t t, int) { std::memset(buf.get() + static_cast<size_t>(t) * slice, 1, slice); });
    double best = 0;
    std::vector<uint64_t> sink(static_cast<size_t>(threads));
    for (int r = 0; r < 2 * reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        pool.run(threads, [&](int64_t t, int) {
            const uint8_t* mine = buf.get() + static_cast<size_t>(t) * slice;
            sink[static_cast<size_t>(t)] ^= r % 2 ? stream_read_prefetch(mine, slice) : stream_read(mine, slice);
        });
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double gbs = static_cast<double>(slice) * threads / secs / 1e9;
        if (gbs > best) best = gbs;
    }
    volatile uint64_t keep = 0;
    for (auto s : sink) keep = keep ^ s;
    (void)keep;
    return best;
}

}  // namespace tf::kernels
