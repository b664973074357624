// qwen3: Qwen 3 (dense). No biases; RMSNorm of each query and key head before RoPE; the head
// size is its own hyperparameter (not n_embd / n_head); NEOX-style RoPE.
#include "model/model.h"

namespace tf::model {

Status bind_qwen3(Model& m, WeightBinder& b) {
    m.rope_neox = true;
    bind_common(m, b, true);
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        bind_attention(m, b, static_cast<int>(i), l);
        bind_dense_ffn(m, b, static_cast<int>(i), l);
        bind_qk_norms(m, b, static_cast<int>(i), l);
    }
    return Status::success();
}

}  // namespace tf::model
