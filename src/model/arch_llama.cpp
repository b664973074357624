// llama: Llama 2/3.x, TinyLlama, SmolLM, Mistral, and Mixtral-style mixture of experts.
// Adjacent-pair RoPE, optional rope_freqs (Llama 3.1 scaling), output tied to the embedding
// when absent.
#include "model/model.h"

namespace tf::model {

Status bind_llama(Model& m, WeightBinder& b) {
    m.rope_neox = false;
    bind_common(m, b, true);
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        bind_attention(m, b, static_cast<int>(i), m.layers[i]);
        if (m.hp.n_expert > 0) {
            bind_moe_ffn(m, b, static_cast<int>(i), m.layers[i]);
        } else {
            bind_dense_ffn(m, b, static_cast<int>(i), m.layers[i]);
        }
    }
    return Status::success();
}

}  // namespace tf::model
