#include "model/context.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "kernels/attention_ops.h"
#include "kernels/blocks.h"
#include "kernels/convert.h"
#include "kernels/dot.h"
#include "kernels/matmul.h"
#include "kernels/quant_legacy.h"
#include "util/half.h"

namespace tf::model {

namespace {

kernels::WeightMatrix matrix(const TensorRef& t) {
    return {t.type, t.data, t.rows(), t.cols(), t.panels};
}

// ggml's f16 dot product as its AVX-512 build computes it (the reference machine): blocks of 64
// in four 16-lane FMA accumulators reduced in a fixed tree, the rest added in double.
float ggml_dot_f16(const float* x, const uint16_t* y, int64_t n) {
    const int64_t np = n & ~int64_t(63);
    float acc[4][16] = {};
    for (int64_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 4; ++j) {
            for (int l = 0; l < 16; ++l)
                acc[j][l] = std::fma(x[i + 16 * j + l], fp16_to_fp32(y[i + 16 * j + l]), acc[j][l]);
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

template <typename T>
void ensure(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}

}  // namespace

// Buffers reused across decode calls: they grow to the largest batch seen and stay.
struct Context::Scratch {
    std::vector<float> x, xn, q, k, v, attn, proj, gate, up, act, logits_in;
    std::vector<float> router, moe_in, moe_gate, moe_up, moe_act, moe_out;
    std::vector<int64_t> out_rows;
    std::vector<uint8_t> activations;  // quantized activation rows for the matrix products
    std::vector<uint8_t> emb_bytes;    // an embedding row restored from its panels
    // Per worker: a query copy, scores and value accumulators for one (token, head).
    struct Worker {
        std::vector<float> q, scores, acc;
        std::vector<uint16_t> acc16;
        std::vector<uint8_t> q8;                     // the query as a Q8_0 activation row (Q8_0 keys)
        std::vector<float> rope_cs;                  // a token's RoPE angles, shared by its heads
        std::vector<const uint8_t*> k_rows, v_rows;  // the cache cells of a query's positions
    };
    std::vector<Worker> workers;
};

Status Context::check(const Model& model, const ContextOptions& o) {
    if (Status st = KvCache::check_type(o.k_type, model.hp.n_embd_head_k, "keys"); !st) return st;
    return KvCache::check_type(o.v_type, model.hp.n_embd_head_v, "values");
}

namespace {

const ContextOptions& checked(const Model& model, const ContextOptions& o) {
    if (Status st = Context::check(model, o); !st) throw std::invalid_argument(st.error().message);
    return o;
}

std::vector<uint32_t> layer_windows(const Model& model) {
    std::vector<uint32_t> w;
    for (const LayerWeights& l : model.layers) w.push_back(l.window);
    return w;
}

}  // namespace

Context::Context(const Model& model, const ContextOptions& o)
    : m_((checked(model, o), model)),  // checked before the cache is laid out
      n_ctx_(std::max(o.n_ctx, 1)),
      numerics_(o.attention),
      pool_(std::make_unique<ThreadPool>(std::max(o.n_threads, 1))),
      kv_(layer_windows(model), int64_t(model.hp.n_head_kv) * model.hp.n_embd_head_k,
          int64_t(model.hp.n_head_kv) * model.hp.n_embd_head_v, n_ctx_, o.n_seq_max, o.k_type, o.v_type, o.swa_extra),
      s_(std::make_unique<Scratch>()) {
    const HParams& hp = model.hp;
    s_->workers.resize(static_cast<size_t>(pool_->size()));
    // RoPE of each layer. LongRoPE picks its long factors when the context is longer than the
    // original one; YaRN's magnitude correction is cancelled as llama.cpp does.
    const float* factors = nullptr;
    if (!model.rope_freqs.empty()) {
        factors = model.rope_freqs.data();
    } else if (!model.rope_long.empty() && !model.rope_short.empty()) {
        factors = static_cast<uint32_t>(n_ctx_) > hp.rope_orig_ctx ? model.rope_long.data() : model.rope_short.data();
    }
    const bool yarn = hp.rope_scaling == RopeScaling::Yarn;
    const float global_scale = hp.rope_scaling == RopeScaling::None ? 1.0f : hp.rope_freq_scale;
    float attn_factor = 1.0f;
    if (yarn) {
        const float factor = 1.0f / global_scale;
        attn_factor = factor <= 1.0f ? 1.0f : 0.1f * std::log(factor) + 1.0f;
        attn_factor *= 1.0f / (1.0f + 0.1f * std::log(factor));
    }
    attn_factor *= hp.rope_attn_factor;
    const int n_ctx_orig = static_cast<int>(hp.rope_orig_ctx != 0 ? hp.rope_orig_ctx : hp.n_ctx_train);
    for (const LayerWeights& l : model.layers) {
        kernels::RopeParams r;
        r.n_rot = static_cast<int>(hp.n_rot);
        r.freq_base = l.rope_base;
        r.freq_scale = l.rope_scale;
        r.neox = model.rope_neox;
        r.freq_factors = factors;
        r.ext_factor = yarn ? 1.0f : 0.0f;
        r.attn_factor = attn_factor;
        kernels::rope_yarn_corr_dims(r.n_rot, n_ctx_orig, r.freq_base, 32.0f, 1.0f, r.corr_dims);
        rope_.push_back(r);
    }
}

Context::~Context() = default;

namespace {

void store_kv(TensorType type, const float* x, int64_t n, uint8_t* cell) {
    if (type == TensorType::Q8_0) {
        kernels::quantize_row_q8_0(x, reinterpret_cast<kernels::BlockQ8_0*>(cell), n);
        return;
    }
    auto* h = reinterpret_cast<uint16_t*>(cell);
    for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(x[i]);
}

}  // namespace

// out = W x for n rows of x, the activations converted into the context's scratch (no
// allocation once it has grown to the largest batch).
void Context::matmul(const TensorRef& w, const float* x, int64_t n, float* out) {
    matmuls({{&w, out}}, x, n);
}

void Context::matmuls(std::initializer_list<Product> products, const float* x, int64_t n) {
    constexpr int kMax = 4;
    kernels::WeightMatrix ws[kMax];
    float* outs[kMax];
    int count = 0;
    auto flush = [&] {
        if (count == 0) return;
        kernels::matmul_group(ws, outs, count, s_->activations.data(), n, pool_.get());
        count = 0;
    };
    for (const Product& p : products) {
        kernels::WeightMatrix m = matrix(*p.w);
        m.llama_cpp_order = numerics_ == AttentionNumerics::LlamaCppCompatible;
        m.llama_cpp_rowwise = expert_products_;
        // Products whose weights take the same activation format share one conversion and one pass.
        const bool same = count > 0 && count < kMax && ws[0].n_cols == m.n_cols &&
                          kernels::activation_type(ws[0].type) == kernels::activation_type(m.type);
        if (!same) {
            flush();
            ensure(s_->activations, static_cast<size_t>(kernels::activation_row_bytes(m.type, m.n_cols) * n));
            kernels::quantize_activation_rows(m.type, x, n, m.n_cols, s_->activations.data(), pool_.get());
        }
        ws[count] = m;
        outs[count] = p.out;
        ++count;
    }
    flush();
}

void Context::per_token(int64_t n, const std::function<void(int64_t, int)>& fn) {
    pool_->parallel_for(n, 4, [&](int64_t begin, int64_t end, int thread) {
        for (int64_t t = begin; t < end; ++t) fn(t, thread);
    });
}

// Causal attention of the batch's queries over their own sequences in the F16 cache, with one
// of the numerics of AttentionNumerics. Each (token, head) is computed alone, in position
// order, so results never depend on the thread split or on the rest of the batch.
void Context::attention(int layer, const Batch& b, const float* q, float* out) {
    const HParams& hp = m_.hp;
    const int64_t H = hp.n_head, Hkv = hp.n_head_kv, Dk = hp.n_embd_head_k, Dv = hp.n_embd_head_v;
    const int64_t group = H / Hkv;
    const int64_t T = static_cast<int64_t>(b.size());
    const LayerWeights& L = m_.layers[static_cast<size_t>(layer)];
    const uint32_t window = L.window;
    const float cap = m_.attn_softcap;
    // ggml folds the soft-cap divisor into the score scale.
    const float scale = cap != 0.0f ? m_.kq_scale / cap : m_.kq_scale;
    enum class Kernel { Float, Tiled, HalfRow };
    Kernel kernel = Kernel::Float;
    const bool q8_keys = kv_.k_type() == TensorType::Q8_0, q8_values = kv_.v_type() == TensorType::Q8_0;
    if (numerics_ == AttentionNumerics::LlamaCppCompatible && !q8_keys && !q8_values)
        kernel = T >= 64 ? Kernel::Tiled : Kernel::HalfRow;
    // Q8_0 keys are Q8_0 weight rows against the query converted as any activation is (llama.cpp
    // pairs them the same way); the offsets are in bytes.
    static const kernels::DotFn dot_q8 = kernels::dot_kernel(TensorType::Q8_0);
    const int64_t k_head_bytes = q8_keys ? Dk / 32 * int64_t(sizeof(kernels::BlockQ8_0)) : 2 * Dk;
    const int64_t v_head_bytes = q8_values ? Dv / 32 * int64_t(sizeof(kernels::BlockQ8_0)) : 2 * Dv;
    const KvCache& kv = kv_;
    const bool causal = m_.hp.causal;
    pool_->run(T * H, [&](int64_t task, int thread) {
        const int64_t t = task / H, h = task % H, kvh = h / group;
        const int seq = b.seq[static_cast<size_t>(t)];
        const int64_t pos = b.pos[static_cast<size_t>(t)];
        const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
        // The last position attended: the token itself, or for an encoder every token of its
        // sequence (all of the batch's keys and values are in the cache before attention runs).
        const int64_t last = causal ? pos : kv.seq_len(seq) - 1;
        const float sink = L.attn_sinks.empty() ? -INFINITY : L.attn_sinks[static_cast<size_t>(h)];
        Scratch::Worker& w = s_->workers[static_cast<size_t>(thread)];
        ensure(w.q, static_cast<size_t>(Dk));
        ensure(w.scores, static_cast<size_t>(last + 1));
        float* qh = w.q.data();
        float* scores = w.scores.data();
        for (int64_t d = 0; d < Dk; ++d) {
            const float x = q[(t * H + h) * Dk + d];
            qh[d] = kernel == Kernel::HalfRow ? fp16_to_fp32(fp32_to_fp16(x)) : x;
        }
        if (q8_keys) {
            ensure(w.q8, static_cast<size_t>(kernels::activation_row_bytes(TensorType::Q8_0, Dk)));
            kernels::quantize_activations(TensorType::Q8_0, qh, w.q8.data(), Dk);
        }
        float* o = out + (t * H + h) * Dv;
        // llama.cpp's kernels add the sink after the positions, to value sums already in float, as
        // one more softmax term with no value; the row kernel's sum update is not fused, unlike its
        // update per position and the tiled kernel's (measured: gpt-oss MXFP4, 1 ulp in one head that Q8_0 activations
        // turned into a different greedy token).
        auto add_sink = [&](float M, float& S, float* v, bool fused) {
            if (sink == -INFINITY) return;
            float ms = 1.0f, vs = 1.0f;
            if (sink > M) {
                ms = std::exp(M - sink);
                for (int64_t d = 0; d < Dv; ++d) v[d] *= ms;
            } else {
                vs = std::exp(sink - M);
            }
            if (fused) {
                S = std::fma(S, ms, vs);
            } else {
                const float scaled = S * ms;
                S = scaled + vs;
            }
        };
        if (kernel == Kernel::Float && !q8_keys && !q8_values) {
            // The common case, over all positions at once: the same scores and sums as the loops below.
            const int64_t n_pos = last + 1 - lo;
            ensure(w.k_rows, static_cast<size_t>(n_pos));
            ensure(w.v_rows, static_cast<size_t>(n_pos));
            for (int64_t j = lo; j <= last; ++j) {
                const int64_t c = kv.cell(layer, seq, static_cast<int>(j));
                w.k_rows[static_cast<size_t>(j - lo)] = kv.k(layer, c);
                w.v_rows[static_cast<size_t>(j - lo)] = kv.v(layer, c);
            }
            kernels::dot_f16_f32_rows(w.k_rows.data(), kvh * k_head_bytes, n_pos, qh, Dk, scores + lo);
            for (int64_t j = lo; j <= last; ++j) {
                float sc = scores[j] * scale;
                if (cap != 0.0f) sc = cap * std::tanh(sc);
                scores[j] = sc;
            }
            kernels::softmax(scores + lo, n_pos, sink);
            kernels::weighted_sum_f16_rows(scores + lo, w.v_rows.data(), kvh * v_head_bytes, n_pos, o, Dv);
            return;
        }
        for (int64_t j = lo; j <= last; ++j) {
            const uint8_t* kj = kv.k(layer, kv.cell(layer, seq, static_cast<int>(j))) + kvh * k_head_bytes;
            float s = 0.0f;
            if (q8_keys) {
                s = dot_q8(Dk, kj, w.q8.data());
            } else if (kernel == Kernel::HalfRow) {
                s = ggml_dot_f16(qh, reinterpret_cast<const uint16_t*>(kj), Dk);
            } else if (kernel == Kernel::Tiled) {
                // ggml's tile GEMM: one fused chain over the head's dimensions.
                const auto* kh = reinterpret_cast<const uint16_t*>(kj);
                for (int64_t d = 0; d < Dk; ++d) s = std::fma(qh[d], fp16_to_fp32(kh[d]), s);
            } else {
                s = kernels::dot_f16_f32(reinterpret_cast<const uint16_t*>(kj), qh, Dk);
            }
            s *= scale;
            if (cap != 0.0f) s = cap * std::tanh(s);
            scores[j] = s;
        }
        auto value_bytes = [&](int64_t j) {
            return kv.v(layer, kv.cell(layer, seq, static_cast<int>(j))) + kvh * v_head_bytes;
        };
        auto value = [&](int64_t j) { return reinterpret_cast<const uint16_t*>(value_bytes(j)); };
        if (kernel == Kernel::HalfRow) {
            // Online softmax over positions, the running value sum kept in half precision.
            float M = -INFINITY, S = 0.0f;
            ensure(w.acc16, static_cast<size_t>(Dv));
            uint16_t* acc = w.acc16.data();
            std::fill(acc, acc + Dv, uint16_t(0));
            for (int64_t j = lo; j <= last; ++j) {
                const float s = scores[j];
                const float m_old = M;
                float ms = 1.0f, vs = 1.0f;
                if (s > M) {
                    M = s;
                    ms = std::exp(m_old - M);
                    for (int64_t d = 0; d < Dv; ++d) acc[d] = fp32_to_fp16(fp16_to_fp32(acc[d]) * ms);
                } else {
                    vs = std::exp(s - M);
                }
                const uint16_t* vj = value(j);
                for (int64_t d = 0; d < Dv; ++d)
                    acc[d] = fp32_to_fp16(std::fma(fp16_to_fp32(vj[d]), vs, fp16_to_fp32(acc[d])));
                S = std::fma(S, ms, vs);  // fused, as ggml's compiler contracts it
            }
            for (int64_t d = 0; d < Dv; ++d) o[d] = fp16_to_fp32(acc[d]);
            add_sink(M, S, o, false);
            const float inv = S == 0.0f ? 0.0f : 1.0f / S;
            for (int64_t d = 0; d < Dv; ++d) o[d] *= inv;
            return;
        }
        if (kernel == Kernel::Tiled) {
            // ggml's tiled kernel: online softmax over tiles of 64 positions (aligned to position
            // 0); a tile's weights from its vector e^x, summed 16 lanes at a time in its reduction
            // tree and in double; value sums one fused chain over the positions.
            constexpr int64_t kTile = 64;
            float M = -INFINITY, S = 0.0f;
            for (int64_t d = 0; d < Dv; ++d) o[d] = 0.0f;
            float p[kTile];
            for (int64_t j0 = lo - lo % kTile; j0 <= last; j0 += kTile) {
                const int64_t j1 = std::min(last + 1, j0 + kTile), jb = std::max(j0, lo);
                float tile_max = -INFINITY;
                for (int64_t j = jb; j < j1; ++j) tile_max = std::fmax(tile_max, scores[j]);
                if (tile_max == -INFINITY) continue;
                const float m_new = std::fmax(M, tile_max);
                if (m_new > M) {
                    const float ms = std::exp(M - m_new);
                    for (int64_t d = 0; d < Dv; ++d) o[d] *= ms;
                    S *= ms;
                }
                M = m_new;
                for (int64_t k = 0; k < kTile; ++k) {
                    const int64_t j = j0 + k;
                    p[k] = j >= jb && j < j1 ? kernels::ggml_expf(scores[j] - M) : 0.0f;
                }
                double tile_sum = 0.0;
                for (int64_t k = 0; k < kTile; k += 16) {
                    float t8[8], t4[4];
                    for (int l = 0; l < 8; ++l) t8[l] = p[k + l] + p[k + l + 8];
                    for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
                    tile_sum += static_cast<double>((t4[0] + t4[2]) + (t4[1] + t4[3]));
                }
                S = static_cast<float>(static_cast<double>(S) + tile_sum);
                for (int64_t j = jb; j < j1; ++j) {
                    const uint16_t* vj = value(j);
                    for (int64_t d = 0; d < Dv; ++d) o[d] = std::fma(p[j - j0], fp16_to_fp32(vj[d]), o[d]);
                }
            }
            add_sink(M, S, o, true);
            const float inv = S == 0.0f ? 0.0f : 1.0f / S;
            for (int64_t d = 0; d < Dv; ++d) o[d] *= inv;
            return;
        }
        kernels::softmax(scores + lo, last + 1 - lo, sink);
        for (int64_t d = 0; d < Dv; ++d) o[d] = 0.0f;
        if (q8_values) {
            for (int64_t j = lo; j <= last; ++j) kernels::axpy_q8_0(scores[j], value_bytes(j), o, Dv);
        } else {
            for (int64_t j = lo; j <= last; ++j) kernels::axpy_f16(scores[j], value(j), o, Dv);
        }
    });
}

void Context::feed_forward(const LayerWeights& L, const float* x, int64_t n, float* out) {
    if (!L.expert_gate.empty()) {
        moe(L, x, n, out);
        return;
    }
    Scratch& s = *s_;
    if (!L.ffn_gate) {
        // Not gated (BERT): down(gelu(up·x + b_up)) + b_down.
        const int64_t F = L.ffn_up.rows(), E = L.ffn_down.rows();
        ensure(s.up, static_cast<size_t>(n * F));
        ensure(s.act, static_cast<size_t>(n * F));
        matmul(L.ffn_up, x, n, s.up.data());
        per_token(n, [&](int64_t t, int) {
            float* u = s.up.data() + t * F;
            if (!L.ffn_up_b.empty()) kernels::add_in_place(u, L.ffn_up_b.data(), F);
            kernels::gelu(u, F, s.act.data() + t * F);
        });
        matmul(L.ffn_down, s.act.data(), n, out);
        if (!L.ffn_down_b.empty())
            per_token(n, [&](int64_t t, int) { kernels::add_in_place(out + t * E, L.ffn_down_b.data(), E); });
        return;
    }
    const int64_t F = L.ffn_gate.rows();
    ensure(s.gate, static_cast<size_t>(n * F));
    ensure(s.up, static_cast<size_t>(n * F));
    ensure(s.act, static_cast<size_t>(n * F));
    matmuls({{&L.ffn_gate, s.gate.data()}, {&L.ffn_up, s.up.data()}}, x, n);
    const bool gelu = m_.activation == FfnActivation::GELU;
    pool_->parallel_for(n * F, 8192, [&](int64_t begin, int64_t end, int) {
        if (gelu)
            kernels::geglu(s.gate.data() + begin, s.up.data() + begin, end - begin, s.act.data() + begin);
        else
            kernels::swiglu(s.gate.data() + begin, s.up.data() + begin, end - begin, s.act.data() + begin);
    });
    matmul(L.ffn_down, s.act.data(), n, out);
}

// Mixture of experts, as llama.cpp's build_moe_ffn computes it. Mixtral / Qwen3-MoE: softmax
// over the router's logits, the top n_expert_used by probability (ties: lower index), their
// weights renormalized to sum 1. gpt-oss: the router's bias added, the top k logits, a softmax
// over those k. The weighted expert outputs are added in rank order. Tokens routed to the same
// expert are multiplied together; each row's result is the same as alone.
void Context::moe(const LayerWeights& L, const float* x, int64_t n, float* out) {
    const HParams& hp = m_.hp;
    const int64_t E = hp.n_embd, X = hp.n_expert, K = hp.n_expert_used, F = L.expert_gate[0].rows();
    Scratch& s = *s_;
    ensure(s.router, static_cast<size_t>(n * X));
    matmul(L.ffn_router, x, n, s.router.data());
    std::vector<int32_t> chosen(static_cast<size_t>(n * K));
    std::vector<float> weight(static_cast<size_t>(n * K));
    std::vector<int32_t> order(static_cast<size_t>(X));
    for (int64_t t = 0; t < n; ++t) {
        float* p = s.router.data() + t * X;
        if (!L.router_bias.empty()) kernels::add_in_place(p, L.router_bias.data(), X);
        const bool normalized = m_.gating == MoeGating::SoftmaxNormalized;
        if (normalized) kernels::softmax(p, X);
        for (int32_t e = 0; e < X; ++e) order[static_cast<size_t>(e)] = e;
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b2) { return p[a] > p[b2]; });
        int32_t* c = &chosen[static_cast<size_t>(t * K)];
        float* w = &weight[static_cast<size_t>(t * K)];
        for (int64_t k = 0; k < K; ++k) c[k] = order[static_cast<size_t>(k)], w[k] = p[c[k]];
        if (normalized) {
            double sum = 0.0;
            for (int64_t k = 0; k < K; ++k) sum += static_cast<double>(w[k]);
            const float total = std::max(static_cast<float>(sum), 6.103515625e-5f);
            for (int64_t k = 0; k < K; ++k) w[k] /= total;
        } else {
            kernels::softmax(w, K);
        }
    }
    auto add_bias = [](float* rows, int64_t m, int64_t width, const std::vector<float>& bias, int32_t e) {
        if (bias.empty()) return;
        for (int64_t r = 0; r < m; ++r) kernels::add_in_place(rows + r * width, bias.data() + e * width, width);
    };
    ensure(s.moe_out, static_cast<size_t>(n * K * E));
    std::vector<int64_t> slots;  // t * K + k routed to expert e
    for (int32_t e = 0; e < X; ++e) {
        slots.clear();
        for (int64_t i = 0; i < n * K; ++i) {
            if (chosen[static_cast<size_t>(i)] == e) slots.push_back(i);
        }
        if (slots.empty()) continue;  // an expert no token chose is never read
        const int64_t m = static_cast<int64_t>(slots.size());
        ensure(s.moe_in, static_cast<size_t>(m * E));
        ensure(s.moe_gate, static_cast<size_t>(m * F));
        ensure(s.moe_up, static_cast<size_t>(m * F));
        ensure(s.moe_act, static_cast<size_t>(m * F));
        ensure(s.proj, static_cast<size_t>(m * E));
        for (int64_t r = 0; r < m; ++r)
            std::memcpy(&s.moe_in[static_cast<size_t>(r * E)], x + (slots[static_cast<size_t>(r)] / K) * E,
                        static_cast<size_t>(E) * 4);
        expert_products_ = true;
        matmuls({{&L.expert_gate[static_cast<size_t>(e)], s.moe_gate.data()},
                 {&L.expert_up[static_cast<size_t>(e)], s.moe_up.data()}},
                s.moe_in.data(), m);
        add_bias(s.moe_up.data(), m, F, L.expert_up_bias, e);
        add_bias(s.moe_gate.data(), m, F, L.expert_gate_bias, e);
        // The activation over the pool: with one token per expert (generation) this is where a
        // wide expert's time goes after its products.
        pool_->parallel_for(m * F, 8192, [&](int64_t begin, int64_t end, int) {
            const float* g = s.moe_gate.data() + begin;
            const float* u = s.moe_up.data() + begin;
            float* a = s.moe_act.data() + begin;
            if (m_.activation == FfnActivation::SwiGluOai)
                kernels::swiglu_oai(g, u, end - begin, 1.702f, 7.0f, a);
            else
                kernels::swiglu(g, u, end - begin, a);
        });
        matmul(L.expert_down[static_cast<size_t>(e)], s.moe_act.data(), m, s.proj.data());
        add_bias(s.proj.data(), m, E, L.expert_down_bias, e);
        expert_products_ = false;
        for (int64_t r = 0; r < m; ++r) {
            const int64_t slot = slots[static_cast<size_t>(r)];
            std::memcpy(&s.moe_out[static_cast<size_t>(slot * E)], &s.proj[static_cast<size_t>(r * E)],
                        static_cast<size_t>(E) * 4);
        }
    }
    for (int64_t t = 0; t < n; ++t) {
        float* o = out + t * E;
        for (int64_t k = 0; k < K; ++k) {
            const float w = weight[static_cast<size_t>(t * K + k)];
            const float* y = &s.moe_out[static_cast<size_t>((t * K + k) * E)];
            for (int64_t i = 0; i < E; ++i) o[i] = k == 0 ? y[i] * w : o[i] + y[i] * w;
        }
    }
}

Result<std::vector<float>> Context::decode(const std::vector<int32_t>& tokens, bool all_logits) {
    Batch b;
    const int start = kv_.seq_len(0);
    for (size_t i = 0; i < tokens.size(); ++i) {
        b.add(tokens[i], start + static_cast<int32_t>(i), 0, all_logits || i + 1 == tokens.size());
    }
    return decode(b);
}

Result<std::vector<float>> Context::decode(const Batch& b, Output what) {
    const HParams& hp = m_.hp;
    const int64_t T = static_cast<int64_t>(b.size());
    if (T == 0) return Error{"no tokens to evaluate"};
    if (b.pos.size() != b.size() || b.seq.size() != b.size() || b.logits.size() != b.size()) {
        return Error{"malformed batch: token, position, sequence and logits lists differ in length"};
    }
    // Validate everything before touching the cache.
    std::map<int, int> next;  // sequence → next expected position
    for (int64_t t = 0; t < T; ++t) {
        const int32_t id = b.token[static_cast<size_t>(t)];
        const int seq = b.seq[static_cast<size_t>(t)];
        if (id < 0 || static_cast<uint32_t>(id) >= hp.n_vocab) {
            return Error{"token id " + std::to_string(id) + " is outside the vocabulary of " +
                         std::to_string(hp.n_vocab)};
        }
        if (seq < 0 || seq >= kv_.n_seq_max()) {
            return Error{"sequence " + std::to_string(seq) + " is outside 0.." + std::to_string(kv_.n_seq_max() - 1)};
        }
        auto it = next.try_emplace(seq, kv_.seq_len(seq)).first;
        if (m_.pos_embd && b.pos[static_cast<size_t>(t)] >= m_.pos_embd.rows()) {
            return Error{"position " + std::to_string(b.pos[static_cast<size_t>(t)]) + " is beyond the model's " +
                         std::to_string(m_.pos_embd.rows()) + " learned positions"};
        }
        if (!hp.causal && kv_.seq_len(seq) != 0) {
            return Error{"an encoder sees a whole input at once: sequence " + std::to_string(seq) +
                         " must be cleared and evaluated in one batch"};
        }
        if (b.pos[static_cast<size_t>(t)] != it->second) {
            return Error{"batch token " + std::to_string(t) + ": sequence " + std::to_string(seq) +
                         " continues at position " + std::to_string(it->second) + ", not " +
                         std::to_string(b.pos[static_cast<size_t>(t)])};
        }
        ++it->second;
    }
    for (const auto& [seq, end] : next) {
        if (end > n_ctx_) {
            return Error{"context full: sequence " + std::to_string(seq) + " would reach " + std::to_string(end) +
                         " tokens, the context holds " + std::to_string(n_ctx_)};
        }
    }
    std::map<int, int> old_len;
    for (const auto& [seq, end] : next) {
        old_len[seq] = kv_.seq_len(seq);
        if (Status st = kv_.grow(seq, end); !st) {
            for (const auto& [s2, len] : old_len) kv_.truncate(s2, len);
            return st.error();
        }
    }

    const int64_t E = hp.n_embd, H = hp.n_head, Hkv = hp.n_head_kv, Dk = hp.n_embd_head_k, Dv = hp.n_embd_head_v;
    Scratch& s = *s_;
    ensure(s.x, static_cast<size_t>(T * E));
    ensure(s.xn, static_cast<size_t>(T * E));
    ensure(s.q, static_cast<size_t>(T * H * Dk));
    ensure(s.k, static_cast<size_t>(T * Hkv * Dk));
    ensure(s.v, static_cast<size_t>(T * Hkv * Dv));
    ensure(s.attn, static_cast<size_t>(T * H * Dv));
    ensure(s.proj, static_cast<size_t>(T * E));
    float* x = s.x.data();
    float* xn = s.xn.data();

    for (int64_t t = 0; t < T; ++t) {
        embedding_row(m_.tok_embd, b.token[static_cast<size_t>(t)], x + t * E, s.emb_bytes);
        if (m_.embd_scale != 1.0f) kernels::scale_in_place(x + t * E, m_.embd_scale, E);
    }
    if (m_.pos_embd) {
        // Encoders: + token type 0 + absolute position, then LayerNorm (ggml's order of the adds).
        std::vector<float>& row = s.logits_in;
        ensure(row, static_cast<size_t>(E));
        for (int64_t t = 0; t < T; ++t) {
            float* xt = x + t * E;
            if (m_.token_types) {
                embedding_row(m_.token_types, 0, row.data(), s.emb_bytes);
                kernels::add_in_place(xt, row.data(), E);
            }
            embedding_row(m_.pos_embd, b.pos[static_cast<size_t>(t)], row.data(), s.emb_bytes);
            kernels::add_in_place(xt, row.data(), E);
            kernels::layer_norm(xt, m_.embd_norm.data(), m_.embd_norm_b.data(), E, hp.norm_eps, xt);
        }
    }
    s.out_rows.clear();
    for (int64_t t = 0; t < T; ++t) {
        if (b.logits[static_cast<size_t>(t)]) s.out_rows.push_back(t);
    }
    const float eps = hp.norm_rms_eps;
    int64_t n = T;  // rows still computed: all, until the last layer keeps only the outputs
    auto norm_rows = [&](float* in, const std::vector<float>& weight, int64_t rows, float* out) {
        per_token(rows, [&](int64_t t, int) { kernels::rms_norm(in + t * E, weight.data(), E, eps, out + t * E); });
    };
    auto add_rows = [&](const float* y, int64_t rows) {
        per_token(rows, [&](int64_t t, int) { kernels::add_in_place(x + t * E, y + t * E, E); });
    };
    // Post-norm layers (BERT): x = LayerNorm(x + y).
    auto add_and_layer_norm = [&](const float* y, const std::vector<float>& w, const std::vector<float>& bias,
                                  int64_t rows) {
        per_token(rows, [&](int64_t t, int) {
            kernels::add_in_place(x + t * E, y + t * E, E);
            kernels::layer_norm(x + t * E, w.data(), bias.data(), E, hp.norm_eps, x + t * E);
        });
    };

    for (uint32_t il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& L = m_.layers[il];
        if (m_.post_norm)
            std::memcpy(xn, x, static_cast<size_t>(T * E) * 4);
        else
            norm_rows(x, L.attn_norm, T, xn);
        matmuls({{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}}, xn, T);
        const kernels::RopeParams& rope = rope_[il];
        per_token(T, [&](int64_t t, int thread) {
            float* qt = s.q.data() + t * H * Dk;
            float* kt = s.k.data() + t * Hkv * Dk;
            float* vt = s.v.data() + t * Hkv * Dv;
            if (!L.bq.empty()) kernels::add_in_place(qt, L.bq.data(), H * Dk);
            if (!L.bk.empty()) kernels::add_in_place(kt, L.bk.data(), Hkv * Dk);
            if (!L.bv.empty()) kernels::add_in_place(vt, L.bv.data(), Hkv * Dv);
            const int64_t pos = b.pos[static_cast<size_t>(t)];
            std::vector<float>& cs = s.workers[static_cast<size_t>(thread)].rope_cs;
            ensure(cs, static_cast<size_t>(rope.n_rot));
            kernels::rope_angles(pos, rope, cs.data());
            for (int64_t h = 0; h < H; ++h) {
                float* qh = qt + h * Dk;
                if (!L.q_norm.empty()) kernels::rms_norm(qh, L.q_norm.data(), Dk, eps, qh);
                if (L.rope) kernels::rope_apply(qh, cs.data(), rope);
                if (m_.q_scale != 1.0f) kernels::scale_in_place(qh, m_.q_scale, Dk);
            }
            for (int64_t h = 0; h < Hkv; ++h) {
                float* kh = kt + h * Dk;
                if (!L.k_norm.empty()) kernels::rms_norm(kh, L.k_norm.data(), Dk, eps, kh);
                if (L.rope) kernels::rope_apply(kh, cs.data(), rope);
            }
            const int64_t cell = kv_.cell(static_cast<int>(il), b.seq[static_cast<size_t>(t)], static_cast<int>(pos));
            store_kv(kv_.k_type(), kt, Hkv * Dk, kv_.k(static_cast<int>(il), cell));
            store_kv(kv_.v_type(), vt, Hkv * Dv, kv_.v(static_cast<int>(il), cell));
        });
        attention(static_cast<int>(il), b, s.q.data(), s.attn.data());
        if (il + 1 == hp.n_layer) {
            // Only the rows whose logits were asked for matter from here on.
            n = static_cast<int64_t>(s.out_rows.size());
            for (int64_t r = 0; r < n; ++r) {
                const int64_t t = s.out_rows[static_cast<size_t>(r)];
                if (t == r) continue;
                std::memmove(x + r * E, x + t * E, static_cast<size_t>(E) * 4);
                std::memmove(s.attn.data() + r * H * Dv, s.attn.data() + t * H * Dv, static_cast<size_t>(H * Dv) * 4);
            }
            if (n == 0) break;
        }
        matmul(L.wo, s.attn.data(), n, s.proj.data());
        if (!L.bo.empty())
            per_token(n, [&](int64_t t, int) { kernels::add_in_place(s.proj.data() + t * E, L.bo.data(), E); });
        if (m_.post_norm) {
            add_and_layer_norm(s.proj.data(), L.attn_post_norm, L.attn_post_norm_b, n);
            std::memcpy(xn, x, static_cast<size_t>(n * E) * 4);
        } else {
            if (!L.attn_post_norm.empty()) norm_rows(s.proj.data(), L.attn_post_norm, n, s.proj.data());
            add_rows(s.proj.data(), n);
            norm_rows(x, L.ffn_norm, n, xn);
        }
        std::vector<float>& ffn_out = s.logits_in;
        ensure(ffn_out, static_cast<size_t>(n * E));
        feed_forward(L, xn, n, ffn_out.data());
        if (m_.post_norm) {
            add_and_layer_norm(ffn_out.data(), L.ffn_post_norm, L.ffn_post_norm_b, n);
        } else {
            if (!L.ffn_post_norm.empty()) norm_rows(ffn_out.data(), L.ffn_post_norm, n, ffn_out.data());
            add_rows(ffn_out.data(), n);
        }
    }
    for (const auto& [seq, end] : next) kv_.slide(seq);

    const int64_t n_out = static_cast<int64_t>(s.out_rows.size());
    if (what == Output::Embeddings) {
        std::vector<float> hidden(static_cast<size_t>(n_out * E));
        for (int64_t t = 0; t < n_out; ++t) {
            if (m_.output_norm.empty())
                std::memcpy(hidden.data() + t * E, x + t * E, static_cast<size_t>(E) * 4);
            else
                kernels::rms_norm(x + t * E, m_.output_norm.data(), E, eps, hidden.data() + t * E);
        }
        return hidden;
    }
    if (!m_.output) return Error{"this model is an encoder: it gives embeddings, not next-token logits"};
    std::vector<float> logits(static_cast<size_t>(n_out) * hp.n_vocab);
    if (n_out == 0) return logits;
    for (int64_t t = 0; t < n_out; ++t) kernels::rms_norm(x + t * E, m_.output_norm.data(), E, eps, xn + t * E);
    matmul(m_.output, xn, n_out, logits.data());
    if (m_.final_softcap != 0.0f)
        kernels::softcap(logits.data(), static_cast<int64_t>(logits.size()), m_.final_softcap);
    return logits;
}

}  // namespace tf::model
