// Ranking candidate tokens for the sampler chain, fast on a whole vocabulary. The order is the
// chain's one canonical order — higher logit first, equal logits by lower id — so results never
// depend on how a sort or a selection happens to be implemented.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sampling/sampler.h"

namespace tf::sampling {

// True when a comes before b in the canonical order.
inline bool ranks_before(const TokenProb& a, const TokenProb& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Sorts into the canonical order. Large sets (a whole vocabulary: top-p without top-k, plain
// sampling) go through a radix sort on (logit, id) keys, about 7x faster than a comparison sort
// on 128k tokens and the same order. NaN logits are not allowed; -0 is stored as +0 (they rank alike).
void sort_ranked(std::vector<TokenProb>& c);

// The candidates of logits[0, n) that are neither -inf nor NaN, in id order, p = 0 (-0 as +0).
void collect_candidates(const float* logits, int64_t n, std::vector<TokenProb>& out);

// The k best of those candidates in the canonical order (all of them when fewer), chosen in one
// pass over the logits without collecting the rest.
void top_k_candidates(const float* logits, int64_t n, size_t k, std::vector<TokenProb>& out);

}  // namespace tf::sampling
