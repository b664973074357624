// qwen3moe: Qwen3-MoE (Qwen3-30B-A3B and kin). Qwen 3's attention (per-head q/k RMSNorm, head
// size of its own, NEOX RoPE) with routed experts in every layer: softmax over all experts, the
// top k renormalized to sum 1 (norm_topk_prob), SiLU-gated; no shared expert.
#include "model/model.h"

namespace tf::model {

Status bind_qwen3moe(Model& m, WeightBinder& b) {
    m.rope_neox = true;
    bind_common(m, b, true);
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        bind_attention(m, b, static_cast<int>(i), l);
        bind_moe_ffn(m, b, static_cast<int>(i), l);
        const std::string p = "blk." + std::to_string(i) + ".";
        l.q_norm = to_floats(b.require(p + "attn_q_norm.weight", {m.hp.n_embd_head_k}));
        l.k_norm = to_floats(b.require(p + "attn_k_norm.weight", {m.hp.n_embd_head_k}));
    }
    return Status::success();
}

}  // namespace tf::model
