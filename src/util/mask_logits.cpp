#include "util/mask_logits.h"

#include <algorithm>
#include <cmath>
#include <cstdint>


#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tf {

namespace scalar {

void mask_logits(float* logits, int64_t n, const uint64_t* allowed) {
    for (int64_t w = 0; w * 64 < n; ++w) {
        const uint64_t m = allowed[w];
        if (m == ~uint64_t(0)) continue;
        float* l = logits + w * 64;
        const int64_t k_end = std::min<int64_t>(64, n - w * 64);
        if (m == 0) {
            std::fill(l, l + k_end, -INFINITY);
            continue;
        }
        for (int64_t k = 0; k < k_end; ++k) {
            if (!((m >> k) & 1)) l[k] = -INFINITY;
        }
    }
}

}  // namespace scalar

#if defined(__x86_64__)
namespace {

// Logits [from, to) by their own bits (bit i of the mask is logit i, wherever `from` falls).
void mask_range(float* logits, int64_t from, int64_t to, const uint64_t* allowed) {
    for (int64_t i = from; i < to; ++i) {
        if (!((allowed[i >> 6] >> (i & 63)) & 1)) logits[i] = -INFINITY;
    }
}

// Four aligned masked stores of 16 lanes per 64 logits: the cleared bits get -inf. The stores
// start at the first 64-byte boundary of the vector (the few logits before it go one by one),
// so each stays in one cache line: a vector that starts 16 bytes into a line (what malloc
// gives) made every store split in two and the whole mask twice as slow (grammar_bench: warm
// p50 4.5 -> 8.6 us). The 64 bits of a chunk are then read across two mask words. (A function
// attribute rather than a pragma: util/ is also built by clang for the fuzz targets.)
__attribute__((target("avx512f"))) void mask_logits_avx512(float* logits, int64_t n, const uint64_t* allowed) {
    const __m512 neg = _mm512_set1_ps(-INFINITY);
    const auto misalign = static_cast<int64_t>(reinterpret_cast<uintptr_t>(logits) % 64);
    if (misalign % 4 != 0) {  // not even float-aligned: no lane boundary to align to
        mask_range(logits, 0, n, allowed);
        return;
    }
    const int64_t head = std::min<int64_t>(n, misalign == 0 ? 0 : (64 - misalign) / 4);
    mask_range(logits, 0, head, allowed);
    int64_t i = head;
    for (; i + 64 <= n; i += 64) {
        const int64_t w = i >> 6, s = i & 63;
        // Bits i..i+63 lie in words w and w + 1 when s > 0; both exist because i + 63 < n.
        const uint64_t m = s == 0 ? allowed[w] : (allowed[w] >> s) | (allowed[w + 1] << (64 - s));
        if (m == ~uint64_t(0)) continue;
        const uint64_t clear = ~m;
        float* l = logits + i;
        _mm512_mask_store_ps(l, static_cast<__mmask16>(clear), neg);
        _mm512_mask_store_ps(l + 16, static_cast<__mmask16>(clear >> 16), neg);
        _mm512_mask_store_ps(l + 32, static_cast<__mmask16>(clear >> 32), neg);
        _mm512_mask_store_ps(l + 48, static_cast<__mmask16>(clear >> 48), neg);
    }
    mask_range(logits, i, n, allowed);
}

}  // namespace
#endif

void mask_logits(float* logits, int64_t n, const uint64_t* allowed) {
#if defined(__x86_64__)
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    if (avx512) {
        mask_logits_avx512(logits, n, allowed);
        return;
    }
#endif
    scalar::mask_logits(logits, n, allowed);
}

}  // namespace tf
