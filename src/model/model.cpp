#include "model/model.h"

namespace tf::model {

void bind_common(Model& m, WeightBinder& b, bool tied_output_allowed) {
    const uint64_t E = m.hp.n_embd, V = m.hp.n_vocab;
    m.tok_embd = b.require("token_embd.weight", {E, V});
    m.output_norm = to_floats(b.require("output_norm.weight", {E}));
    m.output = tied_output_allowed ? b.optional("output.weight", {E, V}) : b.require("output.weight", {E, V});
    if (!m.output) m.output = m.tok_embd;  // tied embeddings
    m.rope_freqs = to_floats(b.optional("rope_freqs.weight", {m.hp.n_rot / 2}));
}

void bind_layer_common(Model& m, WeightBinder& b, int i, LayerWeights& l) {
    const HParams& hp = m.hp;
    const uint64_t E = hp.n_embd, F = hp.n_ff;
    const uint64_t q = uint64_t(hp.n_head) * hp.n_embd_head_k, kv = uint64_t(hp.n_head_kv) * hp.n_embd_head_k;
    const uint64_t vv = uint64_t(hp.n_head_kv) * hp.n_embd_head_v;
    const std::string p = "blk." + std::to_string(i) + ".";
    l.attn_norm = to_floats(b.require(p + "attn_norm.weight", {E}));
    l.wq = b.require(p + "attn_q.weight", {E, q});
    l.wk = b.require(p + "attn_k.weight", {E, kv});
    l.wv = b.require(p + "attn_v.weight", {E, vv});
    l.wo = b.require(p + "attn_output.weight", {uint64_t(hp.n_head) * hp.n_embd_head_v, E});
    l.ffn_norm = to_floats(b.require(p + "ffn_norm.weight", {E}));
    l.ffn_gate = b.require(p + "ffn_gate.weight", {E, F});
    l.ffn_up = b.require(p + "ffn_up.weight", {E, F});
    l.ffn_down = b.require(p + "ffn_down.weight", {F, E});
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
    auto file = gguf::File::open(path);
    if (!file) return file.error();
    auto m = std::make_unique<Model>();
    m->file = std::make_unique<gguf::File>(std::move(file.value()));
    m->hp = read_hparams(*m->file);
    if (!m->hp.missing.empty()) {
        std::string keys;
        for (const auto& k : m->hp.missing) keys += (keys.empty() ? "" : ", ") + k;
        return Error{path + ": missing required metadata: " + keys};
    }
    if (m->hp.n_expert > 0) return Error{path + ": mixture-of-experts models are not supported yet"};
    WeightBinder b(*m->file);
    Status st;
    if (m->hp.arch == "llama") {
        m->arch = Arch::Llama;
        st = bind_llama(*m, b);
    } else if (m->hp.arch == "qwen2") {
        m->arch = Arch::Qwen2;
        st = bind_qwen2(*m, b);
    } else if (m->hp.arch == "qwen3") {
        m->arch = Arch::Qwen3;
        st = bind_qwen3(*m, b);
    } else {
        return Error{path + ": architecture '" + m->hp.arch + "' is not supported yet (supported: llama, qwen2, qwen3)"};
    }
    if (!st) return Error{path + ": " + st.error().message};
    if (Status s = b.status(); !s) return Error{path + ": " + s.error().message};
    return m;
}

}  // namespace tf::model
