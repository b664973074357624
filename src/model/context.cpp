#include "model/context.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/convert.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "util/half.h"

namespace tf::model {

namespace {

kernels::WeightMatrix matrix(const TensorRef& t) { return {t.type, t.data, t.rows(), t.cols()}; }

// ggml's f16 dot product as its AVX-512 build computes it (the reference machine): blocks of 64
// in four 16-lane FMA accumulators reduced in a fixed tree, the rest added in double.
float ggml_dot_f16(const float* x, const uint16_t* y, int64_t n) {
    const int64_t np = n & ~int64_t(63);
    float acc[4][16] = {};
    for (int64_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 4; ++j) {
            for (int l = 0; l < 16; ++l) acc[j][l] = std::fma(x[i + 16 * j + l], fp16_to_fp32(y[i + 16 * j + l]), acc[j][l]);
        }
    }
    double sum = 0.0;
    if (np > 0) {
        float a[16], t[8], u[4];
        for (int l = 0; l < 16; ++l) a[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
        for (int l = 0; l < 8; ++l) t[l] = a[l + 8] + a[l];
        for (int l = 0; l < 4; ++l) u[l] = t[l + 4] + t[l];
        sum = static_cast<double>((u[0] + u[2]) + (u[1] + u[3]));
    }
    for (int64_t i = np; i < n; ++i) sum += static_cast<double>(x[i] * fp16_to_fp32(y[i]));
    return static_cast<float>(sum);
}

}  // namespace

Context::Context(const Model& model, const ContextOptions& o)
    : m_(model), n_ctx_(o.n_ctx), numerics_(o.attention), pool_(std::make_unique<ThreadPool>(o.n_threads)) {
    const int n_ctx = o.n_ctx;
    const size_t kv = size_t(model.hp.n_head_kv) * model.hp.n_embd_head_k;
    const size_t vv = size_t(model.hp.n_head_kv) * model.hp.n_embd_head_v;
    k_cache_.assign(model.hp.n_layer, std::vector<uint16_t>(kv * static_cast<size_t>(n_ctx)));
    v_cache_.assign(model.hp.n_layer, std::vector<uint16_t>(vv * static_cast<size_t>(n_ctx)));
}

// Causal attention of n_tokens new queries (at positions n_past_ ..) over the F16 cache, with
// one of three numerics (see AttentionNumerics). Each (token, head) is computed alone, in
// position order, so results never depend on the thread split.
void Context::attention(int layer, const float* q, int64_t n_tokens, float* out) {
    const HParams& hp = m_.hp;
    const int64_t H = hp.n_head, Hkv = hp.n_head_kv, Dk = hp.n_embd_head_k, Dv = hp.n_embd_head_v;
    const int64_t group = H / Hkv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(Dk));
    const uint16_t* K = k_cache_[static_cast<size_t>(layer)].data();
    const uint16_t* V = v_cache_[static_cast<size_t>(layer)].data();
    enum class Kernel { Float, Tiled, HalfRow };
    Kernel kernel = Kernel::Float;
    if (numerics_ == AttentionNumerics::LlamaCppCompatible) kernel = n_tokens >= 64 ? Kernel::Tiled : Kernel::HalfRow;
    pool_->run(n_tokens * H, [&](int64_t task, int) {
        const int64_t t = task / H, h = task % H, kvh = h / group;
        const int64_t pos = n_past_ + t;
        std::vector<float> qh(static_cast<size_t>(Dk)), scores(static_cast<size_t>(pos + 1));
        for (int64_t d = 0; d < Dk; ++d) {
            const float x = q[(t * H + h) * Dk + d];
            qh[static_cast<size_t>(d)] = kernel == Kernel::HalfRow ? fp16_to_fp32(fp32_to_fp16(x)) : x;
        }
        for (int64_t j = 0; j <= pos; ++j) {
            const uint16_t* kj = K + (j * Hkv + kvh) * Dk;
            float s = 0.0f;
            if (kernel == Kernel::HalfRow) {
                s = ggml_dot_f16(qh.data(), kj, Dk);
            } else {
                for (int64_t d = 0; d < Dk; ++d) s += qh[static_cast<size_t>(d)] * fp16_to_fp32(kj[d]);
            }
            scores[static_cast<size_t>(j)] = s * scale;
        }
        float* o = out + (t * H + h) * Dv;
        if (kernel == Kernel::HalfRow) {
            // Online softmax over positions, the running value sum kept in half precision.
            float M = -INFINITY, S = 0.0f;
            std::vector<uint16_t> acc(static_cast<size_t>(Dv), 0);
            for (int64_t j = 0; j <= pos; ++j) {
                const float s = scores[static_cast<size_t>(j)];
                const float m_old = M;
                float ms = 1.0f, vs = 1.0f;
                if (s > M) {
                    M = s;
                    ms = std::exp(m_old - M);
                    for (int64_t d = 0; d < Dv; ++d) acc[d] = fp32_to_fp16(fp16_to_fp32(acc[d]) * ms);
                } else {
                    vs = std::exp(s - M);
                }
                const uint16_t* vj = V + (j * Hkv + kvh) * Dv;
                for (int64_t d = 0; d < Dv; ++d) acc[d] = fp32_to_fp16(std::fma(fp16_to_fp32(vj[d]), vs, fp16_to_fp32(acc[d])));
                S = S * ms + vs;
            }
            for (int64_t d = 0; d < Dv; ++d) o[d] = fp16_to_fp32(acc[d]) / S;
            return;
        }
        if (kernel == Kernel::Tiled) {
            // Online softmax over tiles of 64 keys, float value sums.
            constexpr int64_t kTile = 64;
            float M = -INFINITY;
            double S = 0.0;
            for (int64_t d = 0; d < Dv; ++d) o[d] = 0.0f;
            for (int64_t j0 = 0; j0 <= pos; j0 += kTile) {
                const int64_t j1 = std::min(pos + 1, j0 + kTile);
                float tile_max = -INFINITY;
                for (int64_t j = j0; j < j1; ++j) tile_max = std::fmax(tile_max, scores[static_cast<size_t>(j)]);
                const float m_new = std::fmax(M, tile_max);
                if (m_new > M) {
                    const float ms = std::exp(M - m_new);
                    for (int64_t d = 0; d < Dv; ++d) o[d] *= ms;
                    S *= ms;
                }
                M = m_new;
                double tile_sum = 0.0;
                for (int64_t j = j0; j < j1; ++j) {
                    const float p = std::exp(scores[static_cast<size_t>(j)] - M);
                    tile_sum += p;
                    const uint16_t* vj = V + (j * Hkv + kvh) * Dv;
                    for (int64_t d = 0; d < Dv; ++d) o[d] += p * fp16_to_fp32(vj[d]);
                }
                S += tile_sum;
            }
            const float inv = S == 0.0 ? 0.0f : 1.0f / static_cast<float>(S);
            for (int64_t d = 0; d < Dv; ++d) o[d] *= inv;
            return;
        }
        kernels::softmax(scores.data(), pos + 1);
        for (int64_t d = 0; d < Dv; ++d) o[d] = 0.0f;
        for (int64_t j = 0; j <= pos; ++j) {
            const float p = scores[static_cast<size_t>(j)];
            const uint16_t* vj = V + (j * Hkv + kvh) * Dv;
            for (int64_t d = 0; d < Dv; ++d) o[d] += p * fp16_to_fp32(vj[d]);
        }
    });
}

Result<std::vector<float>> Context::decode(const std::vector<int32_t>& tokens, bool all_logits) {
    const HParams& hp = m_.hp;
    const int64_t T = static_cast<int64_t>(tokens.size());
    if (T == 0) return Error{"no tokens to evaluate"};
    if (n_past_ + T > n_ctx_) {
        return Error{"context full: " + std::to_string(n_past_ + T) + " tokens exceed the context of " + std::to_string(n_ctx_)};
    }
    for (int32_t id : tokens) {
        if (id < 0 || static_cast<uint32_t>(id) >= hp.n_vocab) {
            return Error{"token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(hp.n_vocab)};
        }
    }
    const int64_t E = hp.n_embd, H = hp.n_head, Hkv = hp.n_head_kv, Dk = hp.n_embd_head_k, Dv = hp.n_embd_head_v;
    const int64_t F = hp.n_ff;
    std::vector<float> x(static_cast<size_t>(T * E)), xn(x.size());
    std::vector<float> q(static_cast<size_t>(T * H * Dk)), k(static_cast<size_t>(T * Hkv * Dk)), v(static_cast<size_t>(T * Hkv * Dv));
    std::vector<float> attn(static_cast<size_t>(T * H * Dv)), proj(static_cast<size_t>(T * E));
    std::vector<float> gate(static_cast<size_t>(T * F)), up(gate.size()), act(gate.size());

    const uint64_t emb_row = *tensor_row_bytes(m_.tok_embd.type, static_cast<uint64_t>(E));
    for (int64_t t = 0; t < T; ++t) {
        kernels::dequantize_row(m_.tok_embd.type, m_.tok_embd.data + emb_row * static_cast<uint64_t>(tokens[static_cast<size_t>(t)]),
                                x.data() + t * E, E);
    }

    kernels::RopeParams rope;
    rope.n_rot = static_cast<int>(hp.n_rot);
    rope.freq_base = hp.rope_freq_base;
    rope.freq_scale = hp.rope_freq_scale;
    rope.neox = m_.rope_neox;
    rope.freq_factors = m_.rope_freqs.empty() ? nullptr : m_.rope_freqs.data();
    const float eps = hp.norm_rms_eps;

    for (uint32_t il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& L = m_.layers[il];
        for (int64_t t = 0; t < T; ++t) kernels::rms_norm(x.data() + t * E, L.attn_norm.data(), E, eps, xn.data() + t * E);
        kernels::matmul_f32(matrix(L.wq), xn.data(), T, q.data(), pool_.get());
        kernels::matmul_f32(matrix(L.wk), xn.data(), T, k.data(), pool_.get());
        kernels::matmul_f32(matrix(L.wv), xn.data(), T, v.data(), pool_.get());
        for (int64_t t = 0; t < T; ++t) {
            if (!L.bq.empty()) kernels::add_in_place(q.data() + t * H * Dk, L.bq.data(), H * Dk);
            if (!L.bk.empty()) kernels::add_in_place(k.data() + t * Hkv * Dk, L.bk.data(), Hkv * Dk);
            if (!L.bv.empty()) kernels::add_in_place(v.data() + t * Hkv * Dv, L.bv.data(), Hkv * Dv);
            const int64_t pos = n_past_ + t;
            for (int64_t h = 0; h < H; ++h) {
                float* qh = q.data() + (t * H + h) * Dk;
                if (!L.q_norm.empty()) kernels::rms_norm(qh, L.q_norm.data(), Dk, eps, qh);
                kernels::rope(qh, pos, rope);
            }
            for (int64_t h = 0; h < Hkv; ++h) {
                float* kh = k.data() + (t * Hkv + h) * Dk;
                if (!L.k_norm.empty()) kernels::rms_norm(kh, L.k_norm.data(), Dk, eps, kh);
                kernels::rope(kh, pos, rope);
            }
            uint16_t* kc = k_cache_[il].data() + pos * Hkv * Dk;
            uint16_t* vc = v_cache_[il].data() + pos * Hkv * Dv;
            for (int64_t i = 0; i < Hkv * Dk; ++i) kc[i] = fp32_to_fp16(k[static_cast<size_t>(t * Hkv * Dk + i)]);
            for (int64_t i = 0; i < Hkv * Dv; ++i) vc[i] = fp32_to_fp16(v[static_cast<size_t>(t * Hkv * Dv + i)]);
        }
        attention(static_cast<int>(il), q.data(), T, attn.data());
        kernels::matmul_f32(matrix(L.wo), attn.data(), T, proj.data(), pool_.get());
        kernels::add_in_place(x.data(), proj.data(), T * E);

        for (int64_t t = 0; t < T; ++t) kernels::rms_norm(x.data() + t * E, L.ffn_norm.data(), E, eps, xn.data() + t * E);
        kernels::matmul_f32(matrix(L.ffn_gate), xn.data(), T, gate.data(), pool_.get());
        kernels::matmul_f32(matrix(L.ffn_up), xn.data(), T, up.data(), pool_.get());
        kernels::swiglu(gate.data(), up.data(), T * F, act.data());
        kernels::matmul_f32(matrix(L.ffn_down), act.data(), T, proj.data(), pool_.get());
        kernels::add_in_place(x.data(), proj.data(), T * E);
    }

    const int64_t first = all_logits ? 0 : T - 1;
    const int64_t n_out = T - first;
    for (int64_t t = first; t < T; ++t) kernels::rms_norm(x.data() + t * E, m_.output_norm.data(), E, eps, xn.data() + t * E);
    std::vector<float> logits(static_cast<size_t>(n_out) * hp.n_vocab);
    kernels::matmul_f32(matrix(m_.output), xn.data() + first * E, n_out, logits.data(), pool_.get());
    n_past_ += static_cast<int>(T);
    return logits;
}

}  // namespace tf::model
