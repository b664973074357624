// Block layouts of the quantized weight formats, exactly as GGUF files store them (ggml's
// ggml-common.h is the public definition). Every block covers a fixed number of consecutive
// elements of one row; `d` scales are IEEE half (stored as uint16_t) unless noted.
#pragma once

#include <cstdint>

namespace tf::kernels {

constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32, QK_K = 256, QK4_NL = 32;
constexpr int K_SCALE_SIZE = 12;

// x[i] = (q[i] - 8) * d; element j in the low nibble of qs[j], element j+16 in the high nibble.
struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
};
// x[i] = q[i] * d + m
struct BlockQ4_1 {
    uint16_t d, m;
    uint8_t qs[QK4_1 / 2];
};
// 5-bit: low 4 bits as Q4_0, bit 4 of element j in bit j of qh. x = (q - 16) * d
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
};
struct BlockQ5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[QK8_0];
};
// Activation format for Q4_1/Q5_1 dot products: s = d * sum(qs).
struct BlockQ8_1 {
    uint16_t d, s;
    int8_t qs[QK8_1];
};

// Super-blocks of 256. Q2_K: 16 sub-blocks of 16, 4-bit scale and 4-bit min each.
struct BlockQ2_K {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
};
// Q3_K: 16 sub-blocks of 16 with 6-bit signed scales packed in 12 bytes; high bit in hmask.
struct BlockQ3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
};
// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes.
struct BlockQ4_K {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
struct BlockQ5_K {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
// Q6_K: 16 sub-blocks of 16 with int8 scales; 4 low bits in ql, 2 high bits in qh.
struct BlockQ6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
// Activation format for K-quant dot products: float scale, and sums of each 16 quants.
struct BlockQ8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
// Non-linear 4-bit: q indexes kIq4nlValues.
struct BlockIQ4_NL {
    uint16_t d;
    uint8_t qs[QK4_NL / 2];
};
// IQ4_NL codes in super-blocks of 256 with 6-bit sub-block scales (low 4 bits in scales_l,
// high 2 bits in scales_h).
struct BlockIQ4_XS {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
// MXFP4 (OCP microscaling, gpt-oss's expert weights): 32 FP4 (E2M1) codes sharing one power-of-two
// scale stored as a biased exponent (E8M0); code j in the low nibble of qs[j], code j + 16 in the
// high one, as in Q4_0.
struct BlockMXFP4 {
    uint8_t e;
    uint8_t qs[16];
};

static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136 && sizeof(BlockMXFP4) == 17);

// The 16 non-linear levels of IQ4_NL / IQ4_XS.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// The FP4 (E2M1) values doubled to integers (0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6 times 2), so
// that a block's dot product stays an exact integer sum; the scale carries the half back.
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// The block scale 2^(e - 127), halved for the doubled values: 2^(e - 128), exact in float (a
// subnormal for e < 2). e = 255 (NaN in the format) never comes out of a quantizer.
inline float mxfp4_scale(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
}

}  // namespace tf::kernels
