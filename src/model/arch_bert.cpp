// bert: BERT-family encoders (bge-small, all-MiniLM, bge-reranker): bidirectional attention
// without RoPE, learned absolute positions, token-type embeddings (row 0 for every token, as
// llama.cpp feeds them), LayerNorm after the embeddings and after each block's residual sum,
// biases everywhere, a GELU feed-forward without gate. Rerankers carry a classification head.
#include <cmath>

#include "kernels/convert.h"
#include "kernels/dot_llama_cpp.h"
#include "model/model.h"

namespace tf::model {

Status bind_bert(Model& m, WeightBinder& b) {
    const HParams& hp = m.hp;
    const uint64_t E = hp.n_embd, F = hp.n_ff, V = hp.n_vocab;
    if (hp.causal) return Error{"a bert model must be non-causal (bert.attention.causal false or absent)"};
    m.post_norm = true;
    m.activation = FfnActivation::GELU;
    m.tok_embd = b.require("token_embd.weight", {E, V});
    m.token_types = b.optional("token_types.weight", {E, 0});
    if (m.token_types && m.token_types.rows() < 1) return Error{"token_types.weight has no rows"};
    m.pos_embd = b.require("position_embd.weight", {E, hp.n_ctx_train});
    m.embd_norm = to_floats(b.require("token_embd_norm.weight", {E}));
    m.embd_norm_b = to_floats(b.require("token_embd_norm.bias", {E}));
    m.kq_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd_head_k));
    m.layers.resize(hp.n_layer);
    const uint64_t Dq = uint64_t(hp.n_head) * hp.n_embd_head_k, Dkv = uint64_t(hp.n_head_kv) * hp.n_embd_head_k;
    for (uint32_t i = 0; i < hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        const std::string p = "blk." + std::to_string(i) + ".";
        l.wq = b.require(p + "attn_q.weight", {E, Dq});
        l.wk = b.require(p + "attn_k.weight", {E, Dkv});
        l.wv = b.require(p + "attn_v.weight", {E, uint64_t(hp.n_head_kv) * hp.n_embd_head_v});
        l.wo = b.require(p + "attn_output.weight", {uint64_t(hp.n_head) * hp.n_embd_head_v, E});
        l.bq = to_floats(b.require(p + "attn_q.bias", {Dq}));
        l.bk = to_floats(b.require(p + "attn_k.bias", {Dkv}));
        l.bv = to_floats(b.require(p + "attn_v.bias", {uint64_t(hp.n_head_kv) * hp.n_embd_head_v}));
        l.bo = to_floats(b.require(p + "attn_output.bias", {E}));
        l.attn_post_norm = to_floats(b.require(p + "attn_output_norm.weight", {E}));
        l.attn_post_norm_b = to_floats(b.require(p + "attn_output_norm.bias", {E}));
        l.ffn_up = b.require(p + "ffn_up.weight", {E, F});
        l.ffn_up_b = to_floats(b.require(p + "ffn_up.bias", {F}));
        l.ffn_down = b.require(p + "ffn_down.weight", {F, E});
        l.ffn_down_b = to_floats(b.require(p + "ffn_down.bias", {E}));
        l.ffn_post_norm = to_floats(b.require(p + "layer_output_norm.weight", {E}));
        l.ffn_post_norm_b = to_floats(b.require(p + "layer_output_norm.bias", {E}));
        l.rope = false;
    }
    // A reranker's head: cls (E → E, tanh) then cls.output (E → n_cls_out).
    m.cls = b.optional("cls.weight", {E, E});
    if (m.cls) {
        m.cls_b = to_floats(b.require("cls.bias", {E}));
        m.cls_out = b.require("cls.output.weight", {E, 0});
        m.cls_out_b = to_floats(b.require("cls.output.bias", {0}));
        if (m.cls_out && (m.cls_out.rows() < 1 || m.cls_out_b.size() != static_cast<size_t>(m.cls_out.rows()))) {
            return Error{"cls.output.weight and cls.output.bias disagree on the number of labels (" +
                         std::to_string(m.cls_out.rows()) + " rows, " + std::to_string(m.cls_out_b.size()) +
                         " biases)"};
        }
    }
    return Status::success();
}

}  // namespace tf::model

namespace tf::model {

namespace {

// y = W x + b for a small head matrix, one row at a time as llama.cpp computes a single row
// (its vec_dot order for F32 weights; other types dequantized and summed the same way).
std::vector<float> affine(const TensorRef& w, const std::vector<float>& bias, const float* x) {
    const int64_t cols = w.cols(), rows = w.rows();
    const uint64_t row_bytes = *tensor_row_bytes(w.type, static_cast<uint64_t>(cols));
    const kernels::DotFn dot = kernels::llama_cpp_kernels(TensorType::F32, rows).gemv;
    std::vector<float> row(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        kernels::dequantize_row(w.type, w.data + static_cast<uint64_t>(r) * row_bytes, row.data(), cols);
        y[static_cast<size_t>(r)] = dot(cols, row.data(), x) + (bias.empty() ? 0.0f : bias[static_cast<size_t>(r)]);
    }
    return y;
}

}  // namespace

Result<std::vector<float>> classification_head(const Model& m, const float* hidden) {
    if (!m.cls || !m.cls_out) return Error{"the model has no classification head (cls.weight, cls.output.weight)"};
    std::vector<float> h = affine(m.cls, m.cls_b, hidden);
    for (float& v : h) v = std::tanh(v);
    return affine(m.cls_out, m.cls_out_b, h.data());
}

}  // namespace tf::model
