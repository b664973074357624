#include "sampling/rank.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tf::sampling {

namespace {

// Below this a comparison sort is as fast and needs no buffers.
constexpr size_t kRadixFrom = 1024;
constexpr int kDigitBits = 11;
constexpr size_t kBins = size_t(1) << kDigitBits;

float plus_zero(float v) { return v == 0.0f ? 0.0f : v; }

// A key whose unsigned order is descending logit order (logit not NaN; -0 taken as +0).
// Branch-free: half the logits are negative, in no order a branch predictor could learn.
uint32_t descending_key(float logit) {
    uint32_t u = std::bit_cast<uint32_t>(logit);
    u &= 0u - static_cast<uint32_t>((u << 1) != 0);  // -0 -> +0
    const uint32_t flip = 0x80000000u | static_cast<uint32_t>(static_cast<int32_t>(u) >> 31);
    return ~(u ^ flip);
}

float logit_of(uint32_t key) {
    const uint32_t ascending = ~key;
    const uint32_t flip = 0x80000000u | static_cast<uint32_t>(static_cast<int32_t>(~ascending) >> 31);
    return std::bit_cast<float>(ascending ^ flip);
}

// Least significant digit first, stable. Keys: the logit's in the high half, the id in the
// low. Candidates already in id order (the usual case: collected from the logits) need only the
// logit digits, the sort being stable; otherwise the id's digits go first.
void radix_sort(std::vector<TokenProb>& c) {
    std::vector<int> shifts;
    int32_t max_id = 0;
    bool id_ordered = true;
    for (size_t i = 0; i < c.size(); ++i) {
        max_id = std::max(max_id, c[i].id);
        id_ordered = id_ordered && (i == 0 || c[i - 1].id < c[i].id);
    }
    if (!id_ordered) {
        const int id_bits = static_cast<int>(std::bit_width(static_cast<uint32_t>(max_id)));
        for (int s = 0; s < id_bits; s += kDigitBits) shifts.push_back(s);
    }
    for (int s = 32; s < 64; s += kDigitBits) shifts.push_back(s);

    const size_t n = c.size();
    std::vector<uint64_t> keys(n), other(n);
    for (size_t i = 0; i < n; ++i) keys[i] = (uint64_t(descending_key(c[i].logit)) << 32) | static_cast<uint32_t>(c[i].id);
    std::vector<uint32_t> at(kBins);
    for (const int shift : shifts) {
        auto digit = [&](uint64_t k) { return static_cast<size_t>((k >> shift) & (kBins - 1)); };
        std::fill(at.begin(), at.end(), 0);
        for (uint64_t k : keys) ++at[digit(k)];
        if (at[digit(keys[0])] == n) continue;  // a digit every key shares orders nothing
        uint32_t sum = 0;
        for (uint32_t& a : at) {
            const uint32_t count = a;
            a = sum;
            sum += count;
        }
        for (uint64_t k : keys) other[at[digit(k)]++] = k;
        keys.swap(other);
    }
    for (size_t i = 0; i < n; ++i) {
        c[i] = {static_cast<int32_t>(keys[i] & 0xffffffffu), logit_of(static_cast<uint32_t>(keys[i] >> 32)), 0.0f};
    }
}

}  // namespace

void sort_ranked(std::vector<TokenProb>& c) {
    if (c.size() < kRadixFrom) {
        std::sort(c.begin(), c.end(), ranks_before);
        for (TokenProb& t : c) t = {t.id, plus_zero(t.logit), 0.0f};
        return;
    }
    radix_sort(c);
}

void collect_candidates(const float* logits, int64_t n, std::vector<TokenProb>& out) {
    out.clear();
    out.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const float v = logits[i];
        if (v > -INFINITY) out.push_back({static_cast<int32_t>(i), plus_zero(v), 0.0f});  // false for NaN too
    }
}

void top_k_candidates(const float* logits, int64_t n, size_t k, std::vector<TokenProb>& out) {
    out.clear();
    if (k == 0) return;
    out.reserve(k);
    // A heap whose front is the worst of the best k so far; a later id never displaces an equal
    // logit (it ranks after), so one comparison rejects almost every token.
    int64_t i = 0;
    for (; i < n && out.size() < k; ++i) {
        if (logits[i] > -INFINITY) out.push_back({static_cast<int32_t>(i), plus_zero(logits[i]), 0.0f});
    }
    std::make_heap(out.begin(), out.end(), ranks_before);
    if (out.size() == k) {
        float worst = out.front().logit;
        for (; i < n; ++i) {
            const float v = logits[i];
            if (!(v > worst)) continue;
            std::pop_heap(out.begin(), out.end(), ranks_before);
            out.back() = {static_cast<int32_t>(i), plus_zero(v), 0.0f};
            std::push_heap(out.begin(), out.end(), ranks_before);
            worst = out.front().logit;
        }
    }
    std::sort(out.begin(), out.end(), ranks_before);
}

}  // namespace tf::sampling
