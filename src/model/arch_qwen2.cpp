// qwen2: Qwen 2/2.5. Like llama with biases on q, k, v and NEOX-style RoPE.
#include "model/model.h"

namespace tf::model {

Status bind_qwen2(Model& m, WeightBinder& b) {
    m.rope_neox = true;
    bind_common(m, b, true);
    const uint64_t q = uint64_t(m.hp.n_head) * m.hp.n_embd_head_k, kv = uint64_t(m.hp.n_head_kv) * m.hp.n_embd_head_k;
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        bind_attention(m, b, static_cast<int>(i), l);
        bind_dense_ffn(m, b, static_cast<int>(i), l);
        const std::string p = "blk." + std::to_string(i) + ".";
        l.bq = to_floats(b.require(p + "attn_q.bias", {q}));
        l.bk = to_floats(b.require(p + "attn_k.bias", {kv}));
        l.bv = to_floats(b.require(p + "attn_v.bias", {uint64_t(m.hp.n_head_kv) * m.hp.n_embd_head_v}));
    }
    return Status::success();
}

}  // namespace tf::model
