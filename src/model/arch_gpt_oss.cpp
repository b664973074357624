// gpt-oss (OpenAI's open-weight MoE): biases on q/k/v/output, the router and every expert; one
// attention-sink logit per head; sliding-window (even) and global (odd) layers alternating, both
// rotated with the same YaRN-scaled NEOX RoPE; the norm before the experts is stored as
// post_attention_norm; the router keeps the top k logits and takes a softmax over those k; the
// experts use the clamped SwiGLU with llama.cpp's constants (alpha 1.702, limit 7, not in the
// metadata); the output matrix is never tied.
#include <cmath>

#include "model/model.h"

namespace tf::model {

Status bind_gpt_oss(Model& m, WeightBinder& b) {
    const HParams& hp = m.hp;
    m.rope_neox = true;
    m.activation = FfnActivation::SwiGluOai;
    m.gating = MoeGating::SoftmaxOfSelected;
    bind_common(m, b, false);
    m.kq_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_rot));
    const uint64_t E = hp.n_embd, F = hp.n_ff_expert, X = hp.n_expert;
    const uint64_t Dq = uint64_t(hp.n_head) * hp.n_embd_head_k, Dkv = uint64_t(hp.n_head_kv) * hp.n_embd_head_k;
    for (uint32_t i = 0; i < hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        const std::string p = "blk." + std::to_string(i) + ".";
        bind_attention(m, b, static_cast<int>(i), l);
        l.bq = to_floats(b.require(p + "attn_q.bias", {Dq}));
        l.bk = to_floats(b.require(p + "attn_k.bias", {Dkv}));
        l.bv = to_floats(b.require(p + "attn_v.bias", {uint64_t(hp.n_head_kv) * hp.n_embd_head_v}));
        l.bo = to_floats(b.require(p + "attn_output.bias", {E}));
        l.attn_sinks = to_floats(b.require(p + "attn_sinks.weight", {hp.n_head}));
        l.ffn_router = b.require(p + "ffn_gate_inp.weight", {E, X});
        l.router_bias = to_floats(b.require(p + "ffn_gate_inp.bias", {X}));
        bind_moe_experts(m, b, static_cast<int>(i), l);
        // The experts' input norm, under gpt-oss's own tensor name.
        l.ffn_norm = to_floats(b.require(p + "post_attention_norm.weight", {E}));
        l.expert_gate_bias = to_floats(b.require(p + "ffn_gate_exps.bias", {F, X}));
        l.expert_up_bias = to_floats(b.require(p + "ffn_up_exps.bias", {F, X}));
        l.expert_down_bias = to_floats(b.require(p + "ffn_down_exps.bias", {E, X}));
    }
    return Status::success();
}

}  // namespace tf::model
