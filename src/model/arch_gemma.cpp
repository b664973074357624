// gemma2 and gemma3: embeddings scaled by sqrt(n_embd), RMSNorm after the attention and the
// feed-forward blocks as well as before, GELU-gated feed-forward, NEOX RoPE, queries scaled
// before attention, sliding-window layers alternating with global ones. Gemma 2 soft-caps the
// attention scores and the logits; Gemma 3 normalizes each query and key head instead.
#include <cmath>

#include "model/model.h"

namespace tf::model {

namespace {

void bind_gemma_common(Model& m, WeightBinder& b) {
    m.rope_neox = true;
    bind_common(m, b, true);
    m.embd_scale = std::sqrt(static_cast<float>(m.hp.n_embd));
    m.activation = FfnActivation::GELU;
    // gemma_pytorch: the 27B models scale by n_embd / n_head, the others by the head size.
    const bool is_27b = (m.arch == Arch::Gemma2 && m.hp.n_layer == 46) || (m.arch == Arch::Gemma3 && m.hp.n_layer == 62);
    m.q_scale = is_27b ? 1.0f / std::sqrt(static_cast<float>(m.hp.n_embd / m.hp.n_head))
                       : 1.0f / std::sqrt(static_cast<float>(m.hp.n_embd_head_k));
    m.kq_scale = 1.0f;
    const uint64_t E = m.hp.n_embd;
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        bind_attention(m, b, static_cast<int>(i), l);
        bind_dense_ffn(m, b, static_cast<int>(i), l);
        const std::string p = "blk." + std::to_string(i) + ".";
        l.attn_post_norm = to_floats(b.require(p + "post_attention_norm.weight", {E}));
        l.ffn_post_norm = to_floats(b.require(p + "post_ffw_norm.weight", {E}));
    }
}

}  // namespace

Status bind_gemma2(Model& m, WeightBinder& b) {
    bind_gemma_common(m, b);
    m.attn_softcap = m.hp.attn_softcap;
    m.final_softcap = m.hp.final_softcap;
    return Status::success();
}

Status bind_gemma3(Model& m, WeightBinder& b) {
    bind_gemma_common(m, b);
    m.final_softcap = m.hp.final_softcap;
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        m.layers[i].q_norm = to_floats(b.require(p + "attn_q_norm.weight", {m.hp.n_embd_head_k}));
        m.layers[i].k_norm = to_floats(b.require(p + "attn_k_norm.weight", {m.hp.n_embd_head_k}));
    }
    return Status::success();
}

}  // namespace tf::model
