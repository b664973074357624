// Random-weight models with the exact tensor shapes and metadata of real small models, so that
// demos and benchmarks run at real sizes without downloading weights.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/result.h"
#include "util/tensor_type.h"

namespace tf::model {

struct SynthShape {
    std::string name;  // "llama-3.2-1b"
    std::string arch;  // GGUF architecture
    uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
    float rope_base, rms_eps;
    bool tied_output;
    uint32_t n_expert = 0, n_expert_used = 0;
    uint32_t sliding_window = 0, swa_pattern = 0;
    uint32_t n_ff_expert = 0;       // each expert's feed-forward width
    float yarn_factor = 0.0f;       // > 0: YaRN scaling over yarn_orig_ctx
    uint32_t yarn_orig_ctx = 0;
};

const std::vector<SynthShape>& synth_shapes();
const SynthShape* find_synth_shape(const std::string& name);

struct SynthOptions {
    std::string like;        // a name from synth_shapes()
    TensorType type = TensorType::F16;  // type of 2-D weight matrices; norms stay F32
    std::string vocab_from;  // optional GGUF whose tokenizer.* metadata is copied
    uint64_t seed = 42;
    uint32_t n_layer = 0;    // > 0: fewer (or more) layers than the shape, the rest unchanged
                             // (a scaled-down MoE that keeps the real expert count and sizes)
    std::function<void(uint64_t, uint64_t)> on_progress;
};

Status synthesize_model(const SynthOptions& options, const std::string& out_path);

}  // namespace tf::model
