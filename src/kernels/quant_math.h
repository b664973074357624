// Rounding and scale-search helpers shared by the quantizers. They reproduce llama.cpp's
// reference quantizers operation for operation (float types, evaluation order, tie rules),
// because a file we quantize must be byte-identical to llama.cpp's.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tf::kernels {

constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, for |x| < 2^22: add 1.5*2^23 and read the mantissa.
inline int nearest_int(float fval) {
    float val = fval + 12582912.f;
    int i;
    std::memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

// Index of the level of a sorted table nearest to x (ties to the lower level).
inline int best_index_int8(int n, const int8_t* val, float x) {
    if (x <= val[0]) return 0;
    if (x >= val[n - 1]) return n - 1;
    int ml = 0, mu = n - 1;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < val[mav]) mu = mav;
        else ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// Symmetric quantization to [-nmax, nmax-1] with a search over 18 scales around nmax/max;
// rmse_type picks the weighting (1: x², 2: 1, 3: |x|, other: sqrt|x|); qw overrides it.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// Symmetric 3-bit search used by Q3_K (iteratively moves single quants while it helps).
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Asymmetric (scale + min) quantization to [0, nmax] with weights, searching nstep+1 scales.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

}  // namespace tf::kernels
