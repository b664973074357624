// phi3: Phi-3 and Phi-4. Fused qkv projection (or separate), fused gate+up matrix whose first
// half is the gate, NEOX RoPE with LongRoPE factors (long ones when the context exceeds the
// original one), queries scaled before attention. llama.cpp ignores Phi's sliding window; so do we.
#include <cmath>

#include "model/model.h"

namespace tf::model {

Status bind_phi3(Model& m, WeightBinder& b) {
    m.rope_neox = true;
    bind_common(m, b, true);
    m.q_scale = 1.0f / std::sqrt(static_cast<float>(m.hp.n_embd_head_k));
    m.kq_scale = 1.0f;
    m.hp.sliding_window = 0;
    m.rope_long = to_floats(b.optional("rope_factors_long.weight", {m.hp.n_rot / 2}));
    m.rope_short = to_floats(b.optional("rope_factors_short.weight", {m.hp.n_rot / 2}));
    const uint64_t E = m.hp.n_embd, F = m.hp.n_ff;
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        bind_attention(m, b, static_cast<int>(i), l);
        const std::string p = "blk." + std::to_string(i) + ".";
        l.ffn_norm = to_floats(b.require(p + "ffn_norm.weight", {E}));
        if (TensorRef gate_up = b.require(p + "ffn_up.weight", {E, 2 * F})) {
            l.ffn_gate = row_range(gate_up, 0, static_cast<int64_t>(F));
            l.ffn_up = row_range(gate_up, static_cast<int64_t>(F), static_cast<int64_t>(F));
        }
        l.ffn_down = b.require(p + "ffn_down.weight", {F, E});
    }
    return Status::success();
}

}  // namespace tf::model
