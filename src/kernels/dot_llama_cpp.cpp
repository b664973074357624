#include "kernels/dot_llama_cpp.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.h"
#include "kernels/dot_blocks.h"
#include "kernels/quant_k.h"
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
void values_mxfp4(const BlockMXFP4& b, Values v) {
    for (int j = 0; j < 16; ++j) v[j] = kMxfp4Values[b.qs[j] & 0x0F], v[j + 16] = kMxfp4Values[b.qs[j] >> 4];
}
// A 32-element block's scale: half precision, or MXFP4's exponent.
template <class W>
float scale_of(const W& b) {
    return fp16_to_fp32(b.d);
}
template <>
float scale_of(const BlockMXFP4& b) {
    return mxfp4_scale(b.e);
}
void values_q8_0(const BlockQ8_0& b, Values v) {
    for (int j = 0; j < 32; ++j) v[j] = b.qs[j];
}

template <class A>
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
        lanes_add(v, y[b], scale_of(x[b]) * fp16_to_fp32(y[b].d), acc);
    }
    return reduce_lanes8(acc);
}

// MXFP4's vec_dot: the lanes of even and odd blocks in two accumulators, added before the lane
// reduction; an odd last block added on its own.
template <class W, void (*Decode)(const W&, Values)>
float lanes_pairs(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const W*>(w);
    auto y = static_cast<const BlockQ8_0*>(a);
    const int64_t nb = n / 32;
    float acc[2][8] = {};
    Values v;
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        for (int k = 0; k < 2; ++k) {
            Decode(x[b + k], v);
            lanes_add(v, y[b + k], fp16_to_fp32(y[b + k].d) * scale_of(x[b + k]), acc[k]);
        }
    }
    float sum[8];
    for (int l = 0; l < 8; ++l) sum[l] = acc[0][l] + acc[1][l];
    float r = reduce_lanes8(sum);
    for (; b < nb; ++b) {
        Decode(x[b], v);
        int32_t s = 0;
        for (int j = 0; j < 32; ++j) s += v[j] * y[b].qs[j];
        r = std::fma(fp16_to_fp32(y[b].d) * scale_of(x[b]), static_cast<float>(s), r);
    }
    return r;
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
        lanes_add(v, y[b], fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), acc);
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
        acc = std::fma(static_cast<float>(s), scale_of(x[b]) * fp16_to_fp32(y[b].d), acc);
    }
    return acc;
}

void values_q5_0(const BlockQ5_0& b, Values v) {
    values_q5(b, v, 16);
}
void values_q5_1(const BlockQ5_1& b, Values v) {
    values_q5(b, v, 0);
}

// --- K-quants and IQ4_XS (super-blocks of 256, Q8_K activations) ---
// A super-block decoded: its 256 integer values in element order and the integer scale of each
// element's sub-block.
struct KBlock {
    int32_t v[256];
    int32_t scale[256];
};

// The 8 lane sums of ggml's AVX2 vec_dot: lane l takes bytes 4l..4l+3 of every 32-element group,
// each product times its sub-block's scale.
void k_lanes(const KBlock& k, const int8_t* q8, int32_t lane[8]) {
    for (int l = 0; l < 8; ++l) {
        int32_t s = 0;
        for (int g = 0; g < 8; ++g) {
            for (int e = 32 * g + 4 * l; e < 32 * g + 4 * l + 4; ++e) s += k.scale[e] * k.v[e] * q8[e];
        }
        lane[l] = s;
    }
}

void decode_q6_k(const BlockQ6_K& b, KBlock& k) {
    for (int n = 0; n < 2; ++n) {
        const uint8_t* ql = b.ql + 64 * n;
        const uint8_t* qh = b.qh + 32 * n;
        for (int l = 0; l < 32; ++l) {
            const int base = 128 * n + l;
            k.v[base] = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
            k.v[base + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            k.v[base + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            k.v[base + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    for (int e = 0; e < 256; ++e) k.scale[e] = b.scales[e / 16];
}

// Q6_K: unsigned values (0..63); the 32 offset leaves each lane as the sums of two 16-element
// sub-blocks' activations times 32 times their scales — lanes that group differently.
float q6_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ6_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float acc[8] = {};
    KBlock k;
    int32_t lane[8];
    for (int64_t i = 0; i < n / 256; ++i) {
        decode_q6_k(x[i], k);
        k_lanes(k, y[i].qs, lane);
        const float d = y[i].d * fp16_to_fp32(x[i].d);
        for (int l = 0; l < 8; ++l) {
            const int32_t sub =
                32 * (y[i].bsums[2 * l] * x[i].scales[2 * l] + y[i].bsums[2 * l + 1] * x[i].scales[2 * l + 1]);
            acc[l] = std::fma(d, static_cast<float>(lane[l] - sub), acc[l]);
        }
    }
    return reduce_lanes8(acc);
}

void decode_q3_k(const BlockQ3_K& b, KBlock& k) {
    int8_t sc[16];
    unpack_q3_k_scales(b.scales, sc);
    for (int e = 0; e < 256; ++e) {
        const int n = e / 128, j = (e % 128) / 32, l = e % 32;
        const int low = (b.qs[32 * n + l] >> (2 * j)) & 3;
        const bool high = (b.hmask[l] >> (4 * n + j)) & 1;
        k.v[e] = low - (high ? 0 : 4);
        k.scale[e] = sc[e / 16];
    }
}

void decode_q5_k(const BlockQ5_K& b, KBlock& k, int32_t mins[8]) {
    for (int g = 0; g < 8; ++g) {
        uint8_t sc, m;
        get_scale_min_k4(g, b.scales, &sc, &m);
        mins[g] = m;
        for (int l = 0; l < 32; ++l) {
            const int e = 32 * g + l;
            const uint8_t q = b.qs[32 * (g / 2) + l];
            k.v[e] = ((g % 2 == 0) ? (q & 0xF) : (q >> 4)) + (((b.qh[l] >> g) & 1) << 4);
            k.scale[e] = sc;
        }
    }
}

void decode_iq4_xs(const BlockIQ4_XS& b, KBlock& k) {
    for (int g = 0; g < 8; ++g) {
        const int ls = ((b.scales_l[g / 2] >> (4 * (g % 2))) & 0xF) | (((b.scales_h >> (2 * g)) & 3) << 4);
        for (int j = 0; j < 16; ++j) {
            k.v[32 * g + j] = kIq4nlValues[b.qs[16 * g + j] & 0xF];
            k.v[32 * g + 16 + j] = kIq4nlValues[b.qs[16 * g + j] >> 4];
        }
        for (int e = 32 * g; e < 32 * g + 32; ++e) k.scale[e] = ls - 32;
    }
}

template <class W, void (*Decode)(const W&, KBlock&), bool WeightScaleFirst>
float k_plain(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const W*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float acc[8] = {};
    KBlock k;
    int32_t lane[8];
    for (int64_t i = 0; i < n / 256; ++i) {
        Decode(x[i], k);
        k_lanes(k, y[i].qs, lane);
        const float d = WeightScaleFirst ? fp16_to_fp32(x[i].d) * y[i].d : y[i].d * fp16_to_fp32(x[i].d);
        for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
    }
    return reduce_lanes8(acc);
}

// Q5_K: lanes for the scaled values, and the mins' term added up block after block (fused).
float q5_k(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const BlockQ5_K*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float acc[8] = {};
    float summs = 0.0f;
    KBlock k;
    int32_t lane[8], mins[8];
    for (int64_t i = 0; i < n / 256; ++i) {
        decode_q5_k(x[i], k, mins);
        k_lanes(k, y[i].qs, lane);
        const float d = y[i].d * fp16_to_fp32(x[i].d);
        const float dmin = -y[i].d * fp16_to_fp32(x[i].dmin);
        int32_t imin = 0;
        for (int g = 0; g < 8; ++g) imin += mins[g] * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
        summs = std::fma(dmin, static_cast<float>(imin), summs);
        for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
    }
    return reduce_lanes8(acc) + summs;
}

// The 8-row repacked Q2_K / Q4_K kernels: exact integer sums over chunks of `Chunk` elements,
// two fused chains (scaled values, mins), subtracted at the end. The GEMV (single rows) takes
// whole super-blocks; the GEMM (rows in fours) takes 64 (Q4_K) or 128 (Q2_K) at a time.
template <class W, int Chunk>
float k_sequential(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const W*>(w);
    auto y = static_cast<const BlockQ8_K*>(a);
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t i = 0; i < n / 256; ++i) {
        const float dw = fp16_to_fp32(x[i].d) * y[i].d, dm = fp16_to_fp32(x[i].dmin) * y[i].d;
        for (int c0 = 0; c0 < 256; c0 += Chunk) {
            int32_t isum = 0, imin = 0;
            if constexpr (std::is_same_v<W, BlockQ2_K>) {
                for (int e = c0; e < c0 + Chunk; ++e) {
                    const int nn = e / 128, j = (e % 128) / 32, l = e % 32;
                    const int q = (x[i].qs[32 * nn + l] >> (2 * j)) & 3;
                    isum += (x[i].scales[e / 16] & 0xF) * q * y[i].qs[e];
                }
                for (int sb = c0 / 16; sb < (c0 + Chunk) / 16; ++sb) imin += (x[i].scales[sb] >> 4) * y[i].bsums[sb];
            } else {
                for (int g = c0 / 32; g < (c0 + Chunk) / 32; ++g) {
                    uint8_t sc, m;
                    get_scale_min_k4(g, x[i].scales, &sc, &m);
                    for (int l = 0; l < 32; ++l) {
                        const uint8_t q = x[i].qs[32 * (g / 2) + l];
                        isum += sc * ((g % 2 == 0) ? (q & 0xF) : (q >> 4)) * y[i].qs[32 * g + l];
                    }
                    imin += m * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
                }
            }
            acc = std::fma(static_cast<float>(isum), dw, acc);
            acc_min = std::fma(static_cast<float>(imin), dm, acc_min);
        }
    }
    return acc - acc_min;
}

// --- float weights (F32, and F16 with F16 activations) ---
// GCC's _mm512_reduce_add_ps: halves, quarters, then pairs.
float reduce16(const float* a) {
    float t8[8], t4[4];
    for (int i = 0; i < 8; ++i) t8[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; ++i) t4[i] = t8[i] + t8[i + 4];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

template <class T>
float element(const T* p, int64_t i) {
    if constexpr (std::is_same_v<T, float>)
        return p[i];
    else
        return fp16_to_fp32(p[i]);
}

// llamafile's tinyBLAS (batches of 2 or more): 16 lanes, one fused chain each, then reduce16.
template <class T>
float vec_dot_float(int64_t n, const void* w, const void* a);

template <class T>
float tinyblas(int64_t n, const void* w, const void* a) {
    if (n % 16 != 0) return vec_dot_float<T>(n, w, a);  // sgemm declines; ggml's loop takes every row
    auto x = static_cast<const T*>(w);
    auto y = static_cast<const T*>(a);
    float acc[16] = {};
    for (int64_t l = 0; l < n; l += 16) {
        for (int q = 0; q < 16; ++q) acc[q] = std::fma(element(x, l + q), element(y, l + q), acc[q]);
    }
    return reduce16(acc);
}

// ggml's vec_dot (single rows): four 16-lane chains over steps of 64, reduced pairwise, then
// reduce16; the elements past the last whole step added in double.
template <class T>
float vec_dot_float(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const T*>(w);
    auto y = static_cast<const T*>(a);
    const int64_t np = n & ~int64_t(63);
    float acc[4][16] = {};
    for (int64_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 4; ++j) {
            for (int q = 0; q < 16; ++q)
                acc[j][q] = std::fma(element(x, i + 16 * j + q), element(y, i + 16 * j + q), acc[j][q]);
        }
    }
    double sum = 0.0;
    if (np > 0) {
        float r[16];
        for (int q = 0; q < 16; ++q) r[q] = (acc[0][q] + acc[2][q]) + (acc[1][q] + acc[3][q]);
        sum = static_cast<double>(reduce16(r));
    }
    for (int64_t i = np; i < n; ++i) sum += static_cast<double>(element(x, i) * element(y, i));
    return static_cast<float>(sum);
}

// BF16 with the AVX512-BF16 instruction the reference machine has (vdpbf16ps): each lane adds
// its odd pair's product, then its even pair's (products are exact; each add rounds to nearest
// even), denormal inputs read as zero and denormal results flushed to zero.
float daz(float v) {
    return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v;
}
float dpbf16(float acc, float a1, float b1, float a0, float b0) {
    acc = daz(daz(acc) + daz(a1) * daz(b1));
    return daz(acc + daz(a0) * daz(b0));
}

float bf16_vec_dot(int64_t n, const void* w, const void* a) {
    auto x = static_cast<const uint16_t*>(w);
    auto y = static_cast<const uint16_t*>(a);
    double sum = 0.0;
    int64_t i = 0;
    float c1[16] = {}, c2[16] = {};
    for (; i + 64 <= n; i += 64) {
        for (int j = 0; j < 16; ++j) {
            c1[j] = dpbf16(c1[j], bf16_to_fp32(x[i + 2 * j + 1]), bf16_to_fp32(y[i + 2 * j + 1]),
                           bf16_to_fp32(x[i + 2 * j]), bf16_to_fp32(y[i + 2 * j]));
            c2[j] = dpbf16(c2[j], bf16_to_fp32(x[i + 32 + 2 * j + 1]), bf16_to_fp32(y[i + 32 + 2 * j + 1]),
                           bf16_to_fp32(x[i + 32 + 2 * j]), bf16_to_fp32(y[i + 32 + 2 * j]));
        }
    }
    sum += static_cast<double>(reduce16(c1));
    sum += static_cast<double>(reduce16(c2));
    for (; i < n; ++i) sum += static_cast<double>(bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]));
    return static_cast<float>(sum);
}

float bf16_tinyblas(int64_t n, const void* w, const void* a) {
    if (n % 32 != 0) return bf16_vec_dot(n, w, a);
    auto x = static_cast<const uint16_t*>(w);
    auto y = static_cast<const uint16_t*>(a);
    float acc[16] = {};
    for (int64_t l = 0; l < n; l += 32) {
        for (int j = 0; j < 16; ++j) {
            acc[j] = dpbf16(acc[j], bf16_to_fp32(x[l + 2 * j + 1]), bf16_to_fp32(y[l + 2 * j + 1]),
                            bf16_to_fp32(x[l + 2 * j]), bf16_to_fp32(y[l + 2 * j]));
        }
    }
    return reduce16(acc);
}

}  // namespace

LlamaCppKernels llama_cpp_kernels(TensorType weight, int64_t n_rows) {
    // ggml-cpu repacks Q4_0, IQ4_NL, Q4_K (AVX2 and up) and Q2_K (AVX-512) matrices whose rows
    // group by 8.
    const bool repacked = n_rows % 8 == 0;
    auto same = [](DotFn f) { return LlamaCppKernels{f, f}; };
    switch (weight) {
        case TensorType::Q8_0:
            return same(lanes<BlockQ8_0, values_q8_0>);
        case TensorType::Q5_0:
            return same(lanes<BlockQ5_0, values_q5_0>);
        case TensorType::Q4_1:
            return same(lanes_min<BlockQ4_1, values_q4_1>);
        case TensorType::Q5_1:
            return same(lanes_min<BlockQ5_1, values_q5_1>);
        case TensorType::Q4_0:
            return same(repacked ? sequential<BlockQ4_0, values_q4_0> : lanes<BlockQ4_0, values_q4_0>);
        case TensorType::IQ4_NL:
            return same(repacked ? sequential<BlockIQ4_NL, values_iq4_nl> : lanes<BlockIQ4_NL, values_iq4_nl>);
        case TensorType::MXFP4:
            return same(lanes_pairs<BlockMXFP4, values_mxfp4>);
        case TensorType::Q6_K:
            return same(q6_k);
        case TensorType::Q5_K:
            return same(q5_k);
        case TensorType::Q3_K:
            return same(k_plain<BlockQ3_K, decode_q3_k, false>);
        case TensorType::IQ4_XS:
            return same(k_plain<BlockIQ4_XS, decode_iq4_xs, true>);
        // Their non-repacked vec_dot orders are not written here.
        case TensorType::Q4_K:
            return repacked ? LlamaCppKernels{k_sequential<BlockQ4_K, 256>, k_sequential<BlockQ4_K, 64>}
                            : LlamaCppKernels{};
        case TensorType::Q2_K:
            return repacked ? LlamaCppKernels{k_sequential<BlockQ2_K, 256>, k_sequential<BlockQ2_K, 128>}
                            : LlamaCppKernels{};
        // llamafile's sgemm takes every row of a batch of 2 or more (rows of a multiple of 16).
        case TensorType::F32:
            return LlamaCppKernels{vec_dot_float<float>, tinyblas<float>, LlamaCppKernels::Split::AllFromTwo};
        case TensorType::F16:
            return LlamaCppKernels{vec_dot_float<uint16_t>, tinyblas<uint16_t>, LlamaCppKernels::Split::AllFromTwo};
        case TensorType::BF16:
            return LlamaCppKernels{bf16_vec_dot, bf16_tinyblas, LlamaCppKernels::Split::AllFromTwo};
        default:
            return {};
    }
}

}  // namespace tf::kernels
