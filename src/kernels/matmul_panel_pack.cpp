// Packing rows into panels (matmul_panel_layout.h) and back: plain code, run once per matrix at
// load; the inverse serves lookups in a repacked table (a tied embedding) and the tests.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/matmul_panel.h"
#include "kernels/matmul_panel_layout.h"
#include "kernels/quant_k.h"

namespace tf::kernels {

namespace {

using namespace panel_layout;

int64_t block_cols(TensorType w) { return w == TensorType::Q4_K || w == TensorType::Q6_K ? QK_K : w == TensorType::F16 ? 8 : 32; }

int64_t block_panel_bytes(TensorType w) {
    switch (w) {
        case TensorType::Q8_0: return kQ8_0Bytes;
        case TensorType::Q4_0: return kQ4_0Bytes;
        case TensorType::Q4_K: return kQ4kBytes;
        case TensorType::Q6_K: return kQ6kBytes;
        case TensorType::F16: return 8 * kF16ElementBytes;
        default: return 0;
    }
}

// Where the 6-bit value of element e (0..255) of a Q6_K super-block lives.
struct Q6Pos {
    int ql, ql_shift, qh, qh_shift;
};
Q6Pos q6_pos(int e) {
    const int half = e / 128, quarter = (e % 128) / 32, l = e % 32;
    return {64 * half + (quarter % 2) * 32 + l, (quarter / 2) * 4, 32 * half + l, 2 * quarter};
}
int q6_get(const BlockQ6_K& b, int e) {
    const Q6Pos p = q6_pos(e);
    return ((b.ql[p.ql] >> p.ql_shift) & 0xF) | (((b.qh[p.qh] >> p.qh_shift) & 3) << 4);
}
void q6_set(BlockQ6_K& b, int e, int v) {
    const Q6Pos p = q6_pos(e);
    b.ql[p.ql] = static_cast<uint8_t>((b.ql[p.ql] & ~(0xF << p.ql_shift)) | ((v & 0xF) << p.ql_shift));
    b.qh[p.qh] = static_cast<uint8_t>((b.qh[p.qh] & ~(3 << p.qh_shift)) | (((v >> 4) & 3) << p.qh_shift));
}

void pack_q4_k(const BlockQ4_K* blk, int r, uint8_t* dst) {
    auto* d = reinterpret_cast<uint16_t*>(dst + kQ4kD);
    auto* dmin = reinterpret_cast<uint16_t*>(dst + kQ4kDmin);
    if (blk == nullptr) {  // a padding row contributes zeros
        for (int v = 0; v < 32; ++v) std::memset(dst + kQ4kQuants + v * 64 + 4 * r, 0, 4);
        for (int j = 0; j < 8; ++j) dst[kQ4kScales + j * 16 + r] = dst[kQ4kMins + (j / 2) * 32 + 2 * r + j % 2] = 0;
        d[r] = dmin[r] = 0;
        return;
    }
    for (int i = 0; i < 4; ++i) {
        for (int g = 0; g < 8; ++g) std::memcpy(dst + q4k_quant(i, g) + 4 * r, blk->qs + 32 * i + 4 * g, 4);
    }
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, blk->scales, &sc, &m);
        dst[kQ4kScales + j * 16 + r] = sc;
        dst[kQ4kMins + (j / 2) * 32 + 2 * r + j % 2] = m;
    }
    d[r] = blk->d;
    dmin[r] = blk->dmin;
}

void unpack_q4_k(const uint8_t* src, int r, BlockQ4_K* blk) {
    for (int i = 0; i < 4; ++i) {
        for (int g = 0; g < 8; ++g) std::memcpy(blk->qs + 32 * i + 4 * g, src + q4k_quant(i, g) + 4 * r, 4);
    }
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
        sc[j] = src[kQ4kScales + j * 16 + r];
        m[j] = src[kQ4kMins + (j / 2) * 32 + 2 * r + j % 2];
    }
    // The inverse of get_scale_min_k4 (all 96 bits are used, so the encoding is unique).
    for (int j = 0; j < 4; ++j) {
        blk->scales[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        blk->scales[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        blk->scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
    }
    std::memcpy(&blk->d, src + kQ4kD + 2 * r, 2);
    std::memcpy(&blk->dmin, src + kQ4kDmin + 2 * r, 2);
}

void pack_q6_k(const BlockQ6_K* blk, int r, uint8_t* dst) {
    auto* d = reinterpret_cast<uint16_t*>(dst + kQ6kD);
    int q[QK_K] = {};
    if (blk) {
        for (int e = 0; e < QK_K; ++e) q[e] = q6_get(*blk, e);
    }
    for (int h = 0; h < 2; ++h) {
        for (int pos = 0; pos < 32; ++pos) {
            const int* u = q + 128 * h + pos;  // unit 4h + j: u[32 * j]
            const int g = pos / 4, k = pos % 4;
            dst[q6k_vec(h, g, 0) + 4 * r + k] = static_cast<uint8_t>(u[0] | (u[96] & 3) << 6);
            dst[q6k_vec(h, g, 1) + 4 * r + k] = static_cast<uint8_t>(u[32] | (u[96] >> 2 & 3) << 6);
            dst[q6k_vec(h, g, 2) + 4 * r + k] = static_cast<uint8_t>(u[64] | (u[96] >> 4 & 3) << 6);
        }
    }
    for (int s = 0; s < 16; ++s) dst[kQ6kScales + s * 16 + r] = blk ? static_cast<uint8_t>(blk->scales[s]) : 0;
    d[r] = blk ? blk->d : 0;
}

void unpack_q6_k(const uint8_t* src, int r, BlockQ6_K* blk) {
    std::memset(blk, 0, sizeof *blk);
    for (int h = 0; h < 2; ++h) {
        for (int pos = 0; pos < 32; ++pos) {
            const int g = pos / 4, k = pos % 4;
            const int a = src[q6k_vec(h, g, 0) + 4 * r + k], b = src[q6k_vec(h, g, 1) + 4 * r + k], c = src[q6k_vec(h, g, 2) + 4 * r + k];
            q6_set(*blk, 128 * h + pos, a & 63);
            q6_set(*blk, 128 * h + 32 + pos, b & 63);
            q6_set(*blk, 128 * h + 64 + pos, c & 63);
            q6_set(*blk, 128 * h + 96 + pos, (a >> 6) | (b >> 6) << 2 | (c >> 6) << 4);
        }
    }
    for (int s = 0; s < 16; ++s) blk->scales[s] = static_cast<int8_t>(src[kQ6kScales + s * 16 + r]);
    std::memcpy(&blk->d, src + kQ6kD + 2 * r, 2);
}

}  // namespace

bool panel_type(TensorType w) { return block_panel_bytes(w) != 0; }

bool panel_fits(TensorType w, int64_t n) { return panel_type(w) && n > 0 && n % block_cols(w) == 0; }

int64_t panel_bytes(TensorType w, int64_t n) { return n / block_cols(w) * block_panel_bytes(w); }

void pack_panel(TensorType type, const uint8_t* w, int64_t row_bytes, int n_rows, int64_t n, uint8_t* panel) {
    if (type == TensorType::F16) {
        for (int64_t i = 0; i < n; ++i) {
            for (int r = 0; r < kPanelRows; ++r) {
                if (r < n_rows) std::memcpy(panel + i * kF16ElementBytes + 2 * r, w + r * row_bytes + 2 * i, 2);
                else std::memset(panel + i * kF16ElementBytes + 2 * r, 0, 2);
            }
        }
        return;
    }
    const int64_t bpb = block_panel_bytes(type), nb = n / block_cols(type);
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t* dst = panel + b * bpb;
        const LegacyBlock lb = legacy_block(b, nb, bpb - 32);
        for (int r = 0; r < kPanelRows; ++r) {
            const uint8_t* row = r < n_rows ? w + r * row_bytes : nullptr;
            switch (type) {
                case TensorType::Q4_K: pack_q4_k(row ? reinterpret_cast<const BlockQ4_K*>(row) + b : nullptr, r, dst); break;
                case TensorType::Q6_K: pack_q6_k(row ? reinterpret_cast<const BlockQ6_K*>(row) + b : nullptr, r, dst); break;
                case TensorType::Q8_0: {
                    auto* scales = reinterpret_cast<uint16_t*>(panel + lb.scales);
                    uint8_t* vec = panel + lb.vectors;
                    const auto* blk = row ? reinterpret_cast<const BlockQ8_0*>(row) + b : nullptr;
                    for (int i = 0; i < 32; ++i) vec[(i / 4) * 64 + 4 * r + i % 4] = blk ? static_cast<uint8_t>(static_cast<uint8_t>(blk->qs[i]) ^ 0x80) : 0x80;
                    scales[r] = blk ? blk->d : 0;
                    break;
                }
                default: {  // Q4_0
                    auto* scales = reinterpret_cast<uint16_t*>(panel + lb.scales);
                    uint8_t* vec = panel + lb.vectors;
                    const auto* blk = row ? reinterpret_cast<const BlockQ4_0*>(row) + b : nullptr;
                    for (int g = 0; g < 4; ++g) {
                        if (blk) std::memcpy(vec + g * 64 + 4 * r, blk->qs + 4 * g, 4);
                        else std::memset(vec + g * 64 + 4 * r, 0, 4);
                    }
                    scales[r] = blk ? blk->d : 0;
                    break;
                }
            }
        }
    }
}

void unpack_panel_row(TensorType type, const uint8_t* panel, int r, int64_t n, uint8_t* row) {
    if (type == TensorType::F16) {
        for (int64_t i = 0; i < n; ++i) std::memcpy(row + 2 * i, panel + i * kF16ElementBytes + 2 * r, 2);
        return;
    }
    const int64_t bpb = block_panel_bytes(type), nb = n / block_cols(type);
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* src = panel + b * bpb;
        const LegacyBlock lb = legacy_block(b, nb, bpb - 32);
        switch (type) {
            case TensorType::Q4_K: unpack_q4_k(src, r, reinterpret_cast<BlockQ4_K*>(row) + b); break;
            case TensorType::Q6_K: unpack_q6_k(src, r, reinterpret_cast<BlockQ6_K*>(row) + b); break;
            case TensorType::Q8_0: {
                auto* blk = reinterpret_cast<BlockQ8_0*>(row) + b;
                for (int i = 0; i < 32; ++i) blk->qs[i] = static_cast<int8_t>(panel[lb.vectors + (i / 4) * 64 + 4 * r + i % 4] ^ 0x80);
                std::memcpy(&blk->d, panel + lb.scales + 2 * r, 2);
                break;
            }
            default: {
                auto* blk = reinterpret_cast<BlockQ4_0*>(row) + b;
                for (int g = 0; g < 4; ++g) std::memcpy(blk->qs + 4 * g, panel + lb.vectors + g * 64 + 4 * r, 4);
                std::memcpy(&blk->d, panel + lb.scales + 2 * r, 2);
                break;
            }
        }
    }
}

}  // namespace tf::kernels
