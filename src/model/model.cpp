#include "model/model.h"

#include <cmath>

namespace tf::model {

namespace {
std::string prefix(int i) {
    return "blk." + std::to_string(i) + ".";
}
}  // namespace

void bind_common(Model& m, WeightBinder& b, bool tied_output_allowed) {
    const uint64_t E = m.hp.n_embd, V = m.hp.n_vocab;
    m.tok_embd = b.require("token_embd.weight", {E, V});
    m.output_norm = to_floats(b.require("output_norm.weight", {E}));
    m.output = tied_output_allowed ? b.optional("output.weight", {E, V}) : b.require("output.weight", {E, V});
    if (!m.output) m.output = m.tok_embd;  // tied embeddings
    m.rope_freqs = to_floats(b.optional("rope_freqs.weight", {m.hp.n_rot / 2}));
    m.kq_scale = 1.0f / std::sqrt(static_cast<float>(m.hp.n_embd_head_k));
    m.layers.resize(m.hp.n_layer);
}

void bind_attention(Model& m, WeightBinder& b, int i, LayerWeights& l) {
    const HParams& hp = m.hp;
    const uint64_t E = hp.n_embd;
    const uint64_t q = uint64_t(hp.n_head) * hp.n_embd_head_k, kv = uint64_t(hp.n_head_kv) * hp.n_embd_head_k;
    const uint64_t vv = uint64_t(hp.n_head_kv) * hp.n_embd_head_v;
    const std::string p = prefix(i);
    l.attn_norm = to_floats(b.require(p + "attn_norm.weight", {E}));
    if (TensorRef qkv = b.optional(p + "attn_qkv.weight", {E, q + kv + vv})) {
        // Fused projection (Phi-3): q, k and v are consecutive row ranges of one matrix.
        l.wq = row_range(qkv, 0, static_cast<int64_t>(q));
        l.wk = row_range(qkv, static_cast<int64_t>(q), static_cast<int64_t>(kv));
        l.wv = row_range(qkv, static_cast<int64_t>(q + kv), static_cast<int64_t>(vv));
    } else {
        l.wq = b.require(p + "attn_q.weight", {E, q});
        l.wk = b.require(p + "attn_k.weight", {E, kv});
        l.wv = b.require(p + "attn_v.weight", {E, vv});
    }
    l.wo = b.require(p + "attn_output.weight", {uint64_t(hp.n_head) * hp.n_embd_head_v, E});
}

void bind_dense_ffn(Model& m, WeightBinder& b, int i, LayerWeights& l) {
    const uint64_t E = m.hp.n_embd, F = m.hp.n_ff;
    const std::string p = prefix(i);
    l.ffn_norm = to_floats(b.require(p + "ffn_norm.weight", {E}));
    l.ffn_gate = b.require(p + "ffn_gate.weight", {E, F});
    l.ffn_up = b.require(p + "ffn_up.weight", {E, F});
    l.ffn_down = b.require(p + "ffn_down.weight", {F, E});
}

void bind_moe_ffn(Model& m, WeightBinder& b, int i, LayerWeights& l) {
    const uint64_t E = m.hp.n_embd, X = m.hp.n_expert;
    const std::string p = prefix(i);
    l.ffn_norm = to_floats(b.require(p + "ffn_norm.weight", {E}));
    l.ffn_router = b.require(p + "ffn_gate_inp.weight", {E, X});
    bind_moe_experts(m, b, i, l);
}

void bind_qk_norms(Model& m, WeightBinder& b, int i, LayerWeights& l) {
    const std::string p = prefix(i);
    l.q_norm = to_floats(b.require(p + "attn_q_norm.weight", {m.hp.n_embd_head_k}));
    l.k_norm = to_floats(b.require(p + "attn_k_norm.weight", {m.hp.n_embd_head_k}));
}

void bind_moe_experts(Model& m, WeightBinder& b, int i, LayerWeights& l) {
    const uint64_t E = m.hp.n_embd, F = m.hp.n_ff_expert, X = m.hp.n_expert;
    const std::string p = prefix(i);
    const TensorRef gate = b.require(p + "ffn_gate_exps.weight", {E, F, X});
    const TensorRef up = b.require(p + "ffn_up_exps.weight", {E, F, X});
    const TensorRef down = b.require(p + "ffn_down_exps.weight", {F, E, X});
    if (!gate || !up || !down) return;
    for (uint64_t x = 0; x < X; ++x) {
        l.expert_gate.push_back(row_range(gate, static_cast<int64_t>(x * F), static_cast<int64_t>(F)));
        l.expert_up.push_back(row_range(up, static_cast<int64_t>(x * F), static_cast<int64_t>(F)));
        l.expert_down.push_back(row_range(down, static_cast<int64_t>(x * E), static_cast<int64_t>(E)));
    }
}

void assign_layer_geometry(Model& m) {
    const HParams& hp = m.hp;
    for (uint32_t i = 0; i < hp.n_layer; ++i) {
        LayerWeights& l = m.layers[i];
        // With pattern n, the last layer of every n is global (llama.cpp's set_swa_pattern).
        const bool local = hp.sliding_window > 0 && (hp.swa_pattern == 0 || i % hp.swa_pattern < hp.swa_pattern - 1);
        l.window = local ? hp.sliding_window : 0;
        l.rope_base = local ? hp.rope_freq_base_swa : hp.rope_freq_base;
        const float scale = hp.rope_scaling == RopeScaling::None ? 1.0f : hp.rope_freq_scale;
        l.rope_scale = local ? hp.rope_freq_scale_swa : scale;
    }
}

namespace {

struct ArchEntry {
    const char* name;
    Arch arch;
    Status (*bind)(Model&, WeightBinder&);
};
constexpr ArchEntry kArchs[] = {
    {"llama", Arch::Llama, bind_llama},          {"qwen2", Arch::Qwen2, bind_qwen2},
    {"qwen3", Arch::Qwen3, bind_qwen3},          {"phi3", Arch::Phi3, bind_phi3},
    {"gemma2", Arch::Gemma2, bind_gemma2},       {"gemma3", Arch::Gemma3, bind_gemma3},
    {"qwen3moe", Arch::Qwen3Moe, bind_qwen3moe}, {"smollm3", Arch::SmolLM3, bind_smollm3},
    {"gpt-oss", Arch::GptOss, bind_gpt_oss},     {"bert", Arch::Bert, bind_bert},
};

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
    auto file = gguf::File::open(path);
    if (!file) return file.error();
    auto m = std::make_unique<Model>();
    m->file = std::make_unique<gguf::File>(std::move(file.value()));
    m->hp = read_hparams(*m->file);
    const HParams& hp = m->hp;
    const ArchEntry* entry = nullptr;
    std::string names;
    for (const ArchEntry& e : kArchs) {
        if (hp.arch == e.name) entry = &e;
        names += (names.empty() ? "" : ", ") + std::string(e.name);
    }
    if (entry == nullptr && !hp.arch.empty()) {
        return Error{path + ": architecture '" + hp.arch + "' is not supported yet (supported: " + names + ")"};
    }
    if (!hp.missing.empty()) {
        std::string keys;
        for (const auto& k : hp.missing) keys += (keys.empty() ? "" : ", ") + k;
        return Error{path + ": missing required metadata: " + keys};
    }
    if (hp.n_head == 0 || hp.n_head_kv == 0 || hp.n_head % hp.n_head_kv != 0 || hp.n_embd_head_k == 0 ||
        hp.n_rot > hp.n_embd_head_k || hp.n_rot % 2 != 0 || hp.n_vocab == 0) {
        return Error{path + ": inconsistent attention hyperparameters (heads " + std::to_string(hp.n_head) + "/" +
                     std::to_string(hp.n_head_kv) + ", head size " + std::to_string(hp.n_embd_head_k) + ", rope dims " +
                     std::to_string(hp.n_rot) + ", vocabulary " + std::to_string(hp.n_vocab) + ")"};
    }
    if (!hp.n_head_per_layer.empty() || !hp.n_head_kv_per_layer.empty() || !hp.n_ff_per_layer.empty()) {
        return Error{path + ": per-layer head counts or feed-forward sizes are not supported yet"};
    }
    if (hp.n_expert > 0 && (hp.n_expert_used == 0 || hp.n_expert_used > hp.n_expert || hp.n_expert > 256)) {
        return Error{path + ": expert_used_count " + std::to_string(hp.n_expert_used) + " does not fit expert_count " +
                     std::to_string(hp.n_expert)};
    }
    const bool moe_only = hp.arch == "qwen3moe" || hp.arch == "gpt-oss";
    if (hp.n_expert > 0 && hp.arch != "llama" && !moe_only) {
        return Error{path + ": experts (expert_count " + std::to_string(hp.n_expert) + ") are not supported for '" +
                     hp.arch + "'"};
    }
    if (hp.n_expert == 0 && moe_only) return Error{path + ": " + hp.arch + " needs expert_count and expert_used_count"};
    m->arch = entry->arch;
    WeightBinder b(*m->file);
    if (Status st = entry->bind(*m, b); !st) return Error{path + ": " + st.error().message};
    if (Status s = b.status(); !s) return Error{path + ": " + s.error().message};
    assign_layer_geometry(*m);
    repack_for_panels(*m);
    return m;
}

}  // namespace tf::model
