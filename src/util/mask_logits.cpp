#include "util/mask_logits.h"

#include <algorithm>
#include <cmath>


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

// Four masked stores of 16 lanes per 64-bit word: the cleared bits get -inf. (A function
// attribute rather than a pragma: util/ is also built by clang for the fuzz targets.)
__attribute__((target("avx512f"))) void mask_logits_avx512(float* logits, int64_t n, const uint64_t* allowed) {
    const __m512 neg = _mm512_set1_ps(-INFINITY);
    const int64_t full = n / 64;
    for (int64_t w = 0; w < full; ++w) {
        const uint64_t m = allowed[w];
        if (m == ~uint64_t(0)) continue;
        const uint64_t clear = ~m;
        float* l = logits + w * 64;
        _mm512_mask_storeu_ps(l, static_cast<__mmask16>(clear), neg);
        _mm512_mask_storeu_ps(l + 16, static_cast<__mmask16>(clear >> 16), neg);
        _mm512_mask_storeu_ps(l + 32, static_cast<__mmask16>(clear >> 32), neg);
        _mm512_mask_storeu_ps(l + 48, static_cast<__mmask16>(clear >> 48), neg);
    }
    if (full * 64 < n) scalar::mask_logits(logits + full * 64, n - full * 64, allowed + full);
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
