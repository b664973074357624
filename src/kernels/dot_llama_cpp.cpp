#include "kernels/dot_llama_cpp.h"

#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/dot_blocks.h"
#include "util/half.h"

namespace tf::kernels {

namespace {

// One block's 32 weight values as integers, in the element order of the activation block.
using Values = int32_t[32];

void values_q4_0(const BlockQ4_0& b, Values v) {
    for (int j = 0; j < 16; ++j) v[j] = (b.qs[j] & 0x0F) - 8, v[j + 16] = (b.qs[j] >> 4) - 8;
}
void values_q4_1(const BlockQ4_1& b, Values v) {
    for (int j = 0; j < 16; ++j) v[j] = b.qs[j] & 0x0F, v[j + 16] = b.qs[j] >> 4;
}
template <class Block>
void values_q5(const Block& b, Values v, int offset) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
        v[j] = ((b.qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - offset;
        v[j + 16] = ((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - offset;
    }
}
void values_iq4_nl(const BlockIQ4_NL& b, Values v) {
    for (int j = 0; j < 16; ++j) v[j] = kIq4nlValues[b.qs[j] & 0x0F], v[j + 16] = kIq4nlValues[b.qs[j] >> 4];
}
void values_q8_0(const BlockQ8_0& b, Values v) {
    for (int j = 0; j < 32; ++j) v[j] = b.qs[j];
}

template <class W, class A>
void lanes_add(const Values v, const A& a, float d, float acc[8]) {
    for (int l = 0; l < 8; ++l) {
        int32_t s = 0;
        for (int j = 4 * l; j < 4 * l + 4; ++j) s += v[j] * a.qs[j];
        acc[l] = std::fma(d, static_cast<float>(s), acc[l]);
    }
}

// Q8_0, Q5_0, and Q4_0 / IQ4_NL outside the repacked path.
template <class W, void (*Decode)(const W&, Values)>
float lanes(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const W*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    float acc[8] = {};
    Values v;
    for (int64_t b = 0; b < n / 32; ++b) {
        Decode(x[b], v);
        lanes_add<W>(v, y[b], fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), acc);
    }
    return reduce_lanes8(acc);
}

// Q4_1, Q5_1 with Q8_1 activations.
template <class W, void (*Decode)(const W&, Values)>
float lanes_min(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const W*>(w);
    auto y = static_cast<const BlockQ8_1*>(a);
    float acc[8] = {};
    float summs = 0;
    Values v;
    for (int64_t b = 0; b < n / 32; ++b) {
        summs += fp16_to_fp32(x[b].m) * fp16_to_fp32(y[b].s);
        Decode(x[b], v);
        lanes_add<W>(v, y[b], fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), acc);
    }
    return reduce_lanes8(acc) + summs;
}

template <class W, void (*Decode)(const W&, Values)>
float sequential(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const W*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    float acc = 0;
    Values v;
    for (int64_t b = 0; b < n / 32; ++b) {
        Decode(x[b], v);
        int32_t s = 0;
        for (int j = 0; j < 32; ++j) s += v[j] * y[b].qs[j];
        acc = std::fma(static_cast<float>(s), fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), acc);
    }
    return acc;
}

void values_q5_0(const BlockQ5_0& b, Values v) { values_q5(b, v, 16); }
void values_q5_1(const BlockQ5_1& b, Values v) { values_q5(b, v, 0); }

}  // namespace

DotFn llama_cpp_dot_kernel(TensorType weight, int64_t n_rows) {
    // ggml-cpu repacks Q4_0 and IQ4_NL matrices whose rows group by 8 (AVX2 and up).
    const bool repacked = n_rows % 8 == 0;
    switch (weight) {
        case TensorType::Q8_0: return lanes<BlockQ8_0, values_q8_0>;
        case TensorType::Q5_0: return lanes<BlockQ5_0, values_q5_0>;
        case TensorType::Q4_1: return lanes_min<BlockQ4_1, values_q4_1>;
        case TensorType::Q5_1: return lanes_min<BlockQ5_1, values_q5_1>;
        case TensorType::Q4_0: return repacked ? sequential<BlockQ4_0, values_q4_0> : lanes<BlockQ4_0, values_q4_0>;
        case TensorType::IQ4_NL:
            return repacked ? sequential<BlockIQ4_NL, values_iq4_nl> : lanes<BlockIQ4_NL, values_iq4_nl>;
        default: return nullptr;
    }
}

}  // namespace tf::kernels
