// A loaded model: hyperparameters and bound weights (views into the mapped file, no copies
// except small float vectors for norms and biases). One file per architecture binds its tensors
// and states how its forward pass differs from the plain llama one (arch_*.cpp); the shared
// transformer forward pass lives in context.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "model/hparams.h"
#include "model/weights.h"
#include "util/result.h"

namespace tf::model {

enum class Arch { Llama, Qwen2, Qwen3, Qwen3Moe, Phi3, Gemma2, Gemma3, SmolLM3, GptOss, Bert };
enum class FfnActivation { SiLU, GELU, SwiGluOai };  // gated: act(gate) * up; SwiGluOai: gpt-oss's clamped form
// How a mixture of experts weighs the experts it picks.
enum class MoeGating {
    SoftmaxNormalized,  // softmax over every expert, the top k renormalized to sum 1 (Mixtral, Qwen3-MoE)
    SoftmaxOfSelected,  // the top k router logits, then a softmax over those k (gpt-oss)
};

struct LayerWeights {
    TensorRef wq, wk, wv, wo, ffn_gate, ffn_up, ffn_down;
    std::vector<float> attn_norm, ffn_norm;            // RMSNorm weights
    std::vector<float> attn_post_norm, ffn_post_norm;  // Gemma: norms of the block outputs
    // BERT: the LayerNorm biases of attn_post_norm / ffn_post_norm (there: of the residual sums)
    // and the feed-forward biases (no gate).
    std::vector<float> attn_post_norm_b, ffn_post_norm_b, ffn_up_b, ffn_down_b;
    std::vector<float> bq, bk, bv, bo;  // attention biases (Qwen2, gpt-oss), empty when absent
    std::vector<float> attn_sinks;      // one extra softmax logit per head (gpt-oss), or empty
    std::vector<float> q_norm, k_norm;  // per-head RMSNorm of q and k (Qwen3, Gemma 3)
    // Mixture of experts: the router and one matrix per expert (views into the stacked tensors).
    TensorRef ffn_router;
    std::vector<TensorRef> expert_gate, expert_up, expert_down;
    // Biases of the router and of each expert's products (gpt-oss): n_expert, n_expert × F,
    // n_expert × F and n_expert × n_embd floats; empty when absent.
    std::vector<float> router_bias, expert_gate_bias, expert_up_bias, expert_down_bias;
    // Attention geometry of this layer.
    uint32_t window = 0;  // sliding window (keys at distance >= window are masked); 0: global
    float rope_base = 10000.0f, rope_scale = 1.0f;
    bool rope = true;  // false: this layer's queries and keys are not rotated (SmolLM3's NoPE layers)
};

struct Model {
    static Result<std::unique_ptr<Model>> load(const std::string& path);

    std::unique_ptr<gguf::File> file;
    HParams hp;
    Arch arch = Arch::Llama;
    TensorRef tok_embd, output;
    std::vector<float> output_norm;
    std::vector<LayerWeights> layers;

    // Encoders (BERT): absolute positions and token types added to the embeddings, LayerNorm of
    // the sum; post-norm layers (LayerNorm of x + block(x)); no output norm. Rerankers add a
    // classification head: out(tanh(cls · h_CLS + cls_b)) + out_b.
    TensorRef pos_embd, token_types, cls, cls_out;
    std::vector<float> embd_norm, embd_norm_b, cls_b, cls_out_b;
    bool post_norm = false;

    // How this architecture's forward pass differs from llama's.
    bool rope_neox = false;                           // rotate (i, i + n_rot/2) pairs instead of adjacent ones
    float embd_scale = 1.0f;                          // multiplies the token embeddings (Gemma: sqrt(n_embd))
    float q_scale = 1.0f;                             // multiplies the queries before attention
    float kq_scale = 1.0f;                            // multiplies the attention scores
    float attn_softcap = 0.0f, final_softcap = 0.0f;  // 0: none
    FfnActivation activation = FfnActivation::SiLU;
    MoeGating gating = MoeGating::SoftmaxNormalized;
    std::vector<float> rope_freqs;             // Llama 3.1-style frequency factors, empty when absent
    std::vector<float> rope_long, rope_short;  // LongRoPE factors (Phi-3), empty when absent

    // Matrix weights repacked for the panel kernels (kernels/matmul_panel.h) at load, when the CPU
    // has them; the file's pages of those tensors are then released, so resident memory stays
    // about the file's size. TF_REPACK=0 keeps every weight a view into the file.
    std::unique_ptr<uint8_t[], void (*)(uint8_t*)> panel_storage{nullptr, [](uint8_t*) {}};
    size_t panel_bytes = 0;
};

// A reranker's head on a final hidden state (n_embd floats): cls.output(tanh(cls · h + cls.b)) +
// cls.output.b, one score per label. An error when the model has no head.
Result<std::vector<float>> classification_head(const Model& m, const float* hidden);

// Repacks the matrices the panel kernels can use (called by Model::load).
void repack_for_panels(Model& m);
// Row `row` of an embedding table as floats, restored from its panels when the table was
// repacked (a tied output); `scratch` holds the row's bytes in between.
void embedding_row(const TensorRef& table, int64_t row, float* out, std::vector<uint8_t>& scratch);

// Architecture binders (arch_*.cpp).
Status bind_llama(Model& m, WeightBinder& b);
Status bind_qwen2(Model& m, WeightBinder& b);
Status bind_qwen3(Model& m, WeightBinder& b);
Status bind_phi3(Model& m, WeightBinder& b);
Status bind_gemma2(Model& m, WeightBinder& b);
Status bind_gemma3(Model& m, WeightBinder& b);
Status bind_qwen3moe(Model& m, WeightBinder& b);
Status bind_smollm3(Model& m, WeightBinder& b);
Status bind_gpt_oss(Model& m, WeightBinder& b);
Status bind_bert(Model& m, WeightBinder& b);

// The parts every llama-like architecture binds the same way.
void bind_common(Model& m, WeightBinder& b, bool tied_output_allowed);
void bind_attention(Model& m, WeightBinder& b, int layer, LayerWeights& l);
void bind_dense_ffn(Model& m, WeightBinder& b, int layer, LayerWeights& l);
void bind_moe_ffn(Model& m, WeightBinder& b, int layer, LayerWeights& l);
// Per-head RMSNorm of queries and keys (Qwen3, Qwen3-MoE).
void bind_qk_norms(Model& m, WeightBinder& b, int layer, LayerWeights& l);
// The stacked expert matrices alone (gate, up, down), one view per expert.
void bind_moe_experts(Model& m, WeightBinder& b, int layer, LayerWeights& l);
// Sliding-window layout and per-layer RoPE (local layers use the _swa base and scale).
void assign_layer_geometry(Model& m);

}  // namespace tf::model
