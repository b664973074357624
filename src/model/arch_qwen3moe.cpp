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
        bind_qk_norms(m, b, static_cast<int>(i), l);
    }
    return Status::success();
}

}  // namespace tf::model
