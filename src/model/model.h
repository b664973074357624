// A loaded model: hyperparameters and bound weights (views into the mapped file, no copies
// except small float vectors for norms and biases). One file per architecture binds its tensors
// (arch_*.cpp); the shared transformer forward pass lives in context.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "model/hparams.h"
#include "model/weights.h"
#include "util/result.h"

namespace tf::model {

enum class Arch { Llama, Qwen2, Qwen3 };

struct LayerWeights {
    TensorRef wq, wk, wv, wo, ffn_gate, ffn_up, ffn_down;
    std::vector<float> attn_norm, ffn_norm;     // RMSNorm weights
    std::vector<float> bq, bk, bv;              // attention biases (Qwen2), empty when absent
    std::vector<float> q_norm, k_norm;          // per-head RMSNorm of q and k (Qwen3), empty when absent
};

struct Model {
    static Result<std::unique_ptr<Model>> load(const std::string& path);

    std::unique_ptr<gguf::File> file;
    HParams hp;
    Arch arch = Arch::Llama;
    bool rope_neox = false;  // rotate (i, i + n_rot/2) pairs instead of adjacent ones
    TensorRef tok_embd, output;
    std::vector<float> output_norm;
    std::vector<float> rope_freqs;  // Llama 3.1-style frequency factors, empty when absent
    std::vector<LayerWeights> layers;
};

// Architecture binders (arch_llama.cpp, arch_qwen2.cpp, arch_qwen3.cpp).
Status bind_llama(Model& m, WeightBinder& b);
Status bind_qwen2(Model& m, WeightBinder& b);
Status bind_qwen3(Model& m, WeightBinder& b);

// The parts every llama-like architecture binds the same way.
void bind_common(Model& m, WeightBinder& b, bool tied_output_allowed);
void bind_layer_common(Model& m, WeightBinder& b, int layer, LayerWeights& l);

}  // namespace tf::model
