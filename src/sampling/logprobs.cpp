#include "sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tf::sampling {

TokenLogprob token_logprob(const float* logits, int64_t n_vocab, int32_t id, int n_top) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
    const double lse = mx + std::log(sum);
    TokenLogprob out;
    out.id = id;
    out.logprob = static_cast<float>(logits[id] - lse);
    const int64_t k = std::min<int64_t>(std::max(n_top, 0), n_vocab);
    if (k > 0) {
        std::vector<int32_t> idx(static_cast<size_t>(n_vocab));
        std::iota(idx.begin(), idx.end(), 0);
        auto key = [&](int32_t i) { return std::isnan(logits[i]) ? -INFINITY : logits[i]; };  // a strict weak order even with NaN
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
            return key(a) != key(b) ? key(a) > key(b) : a < b;
        });
        for (int64_t i = 0; i < k; ++i) out.top.emplace_back(idx[static_cast<size_t>(i)], static_cast<float>(logits[idx[static_cast<size_t>(i)]] - lse));
    }
    return out;
}

}  // namespace tf::sampling
