// smollm3: SmolLM3. Llama's layout (adjacent-pair RoPE, tied output when absent) except that every
// fourth layer attends without position rotation (NoPE; llama.cpp's n_no_rope_layer_step = 4,
// fixed by the architecture, not in the metadata).
#include "model/model.h"

namespace tf::model {

Status bind_smollm3(Model& m, WeightBinder& b) {
    constexpr uint32_t kNoRopeLayerStep = 4;
    m.rope_neox = false;
    bind_common(m, b, true);
    for (uint32_t i = 0; i < m.hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        bind_attention(m, b, static_cast<int>(i), l);
        bind_dense_ffn(m, b, static_cast<int>(i), l);
        l.rope = (i + 1) % kNoRopeLayerStep != 0;
    }
    return Status::success();
}

}  // namespace tf::model
