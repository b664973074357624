#include "model/quantize.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

#include "gguf/file.h"
#include "gguf/keys.h"
#include "gguf/writer.h"
#include "kernels/convert.h"
#include "model/hparams.h"
#include "util/thread_pool.h"

namespace tf::model {

namespace {

const std::vector<QuantizeRecipe>& recipes() {
    static const std::vector<QuantizeRecipe> r = {
        {"F32", FileType::F32, TensorType::F32},          {"F16", FileType::F16, TensorType::F16},
        {"BF16", FileType::BF16, TensorType::BF16},       {"Q8_0", FileType::Q8_0, TensorType::Q8_0},
        {"Q4_0", FileType::Q4_0, TensorType::Q4_0},       {"Q4_1", FileType::Q4_1, TensorType::Q4_1},
        {"Q5_0", FileType::Q5_0, TensorType::Q5_0},       {"Q5_1", FileType::Q5_1, TensorType::Q5_1},
        {"Q2_K", FileType::Q2_K, TensorType::Q2_K},       {"Q3_K_S", FileType::Q3_K_S, TensorType::Q3_K},
        {"Q3_K_M", FileType::Q3_K_M, TensorType::Q3_K},   {"Q3_K_L", FileType::Q3_K_L, TensorType::Q3_K},
        {"Q4_K_S", FileType::Q4_K_S, TensorType::Q4_K},   {"Q4_K_M", FileType::Q4_K_M, TensorType::Q4_K},
        {"Q5_K_S", FileType::Q5_K_S, TensorType::Q5_K},   {"Q5_K_M", FileType::Q5_K_M, TensorType::Q5_K},
        {"Q6_K", FileType::Q6_K, TensorType::Q6_K},       {"IQ4_NL", FileType::IQ4_NL, TensorType::IQ4_NL},
        {"IQ4_XS", FileType::IQ4_XS, TensorType::IQ4_XS}, {"MXFP4_MOE", FileType::MXFP4_MOE, TensorType::MXFP4},
    };
    return r;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

int layer_of(const std::string& name) {
    if (name.rfind("blk.", 0) != 0) return -1;
    return std::atoi(name.c_str() + 4);
}

// llama.cpp's rule for spending more bits on some layers: the first and last eighth, and every
// third layer in between.
bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// Which 2-D weights are quantized at all (llama.cpp leaves norms, the MoE router and position
// tables in their original type).
bool is_quantizable(const gguf::TensorInfo& t) {
    if (t.dims.size() < 2 || !ends_with(t.name, "weight")) return false;
    if (contains(t.name, "_norm.weight") || contains(t.name, "ffn_gate_inp.weight")) return false;
    if (contains(t.name, "pos_embd") || contains(t.name, "token_types") || contains(t.name, "rope_freqs")) return false;
    return true;
}

struct RecipeState {
    int n_layer = 0, n_gqa = 1, n_expert = 0;
    int i_attention_wv = 0, n_attention_wv = 0, i_ffn_down = 0, n_ffn_down = 0;
    bool has_output = false;
};

TensorType recipe_type(const QuantizeRecipe& r, const gguf::TensorInfo& t, RecipeState& st) {
    const std::string& name = t.name;
    const uint64_t row = t.dims[0];
    const FileType ft = r.file_type;
    TensorType type = r.base;
    if (ft == FileType::MXFP4_MOE) {
        // gpt-oss's mix: the stacked expert matrices MXFP4, every other weight Q8_0.
        return t.dims.size() > 2 && t.dims[2] > 1 ? TensorType::MXFP4 : TensorType::Q8_0;
    }
    if (name == "output.weight" || (!st.has_output && name == "token_embd.weight")) {
        if (row % 256 != 0) return TensorType::Q8_0;
        return type == TensorType::Q8_0 ? type : TensorType::Q6_K;
    }
    if (contains(name, "attn_v.weight")) {
        if (ft == FileType::Q2_K) type = st.n_gqa >= 4 ? TensorType::Q4_K : TensorType::Q3_K;
        else if (ft == FileType::Q3_K_M) type = st.i_attention_wv < 2 ? TensorType::Q5_K : TensorType::Q4_K;
        else if (ft == FileType::Q3_K_L) type = TensorType::Q5_K;
        else if ((ft == FileType::Q4_K_M || ft == FileType::Q5_K_M) && use_more_bits(st.i_attention_wv, st.n_attention_wv))
            type = TensorType::Q6_K;
        else if (ft == FileType::Q4_K_S && st.i_attention_wv < 4) type = TensorType::Q5_K;
        if (st.n_expert == 8) type = TensorType::Q8_0;
        ++st.i_attention_wv;
    } else if (contains(name, "attn_k.weight")) {
        if (st.n_expert == 8) type = TensorType::Q8_0;
    } else if (contains(name, "ffn_down")) {
        const int i_layer = st.i_ffn_down, n_layer = st.n_ffn_down;
        if (ft == FileType::Q2_K) type = TensorType::Q3_K;
        else if (ft == FileType::Q3_K_M) type = i_layer < n_layer / 16 ? TensorType::Q5_K : TensorType::Q4_K;
        else if (ft == FileType::Q3_K_L) type = TensorType::Q5_K;
        else if ((ft == FileType::Q4_K_M || ft == FileType::Q5_K_M) && use_more_bits(i_layer, n_layer))
            type = TensorType::Q6_K;
        else if (ft == FileType::Q4_K_S && i_layer < n_layer / 8) type = TensorType::Q5_K;
        ++st.i_ffn_down;
    } else if (contains(name, "attn_output.weight")) {
        if (st.n_expert == 8) {
            if (ft == FileType::Q2_K || ft == FileType::Q3_K_S || ft == FileType::Q3_K_M || ft == FileType::Q4_K_S ||
                ft == FileType::Q4_K_M)
                type = TensorType::Q5_K;
        } else {
            if (ft == FileType::Q2_K) type = TensorType::Q3_K;
            else if (ft == FileType::Q3_K_M) type = TensorType::Q4_K;
            else if (ft == FileType::Q3_K_L) type = TensorType::Q5_K;
        }
    } else if (contains(name, "attn_qkv.weight")) {
        if (ft == FileType::Q3_K_M || ft == FileType::Q3_K_L) type = TensorType::Q4_K;
        else if (ft == FileType::Q4_K_M) type = TensorType::Q5_K;
        else if (ft == FileType::Q5_K_M) type = TensorType::Q6_K;
    }
    return type;
}

// When a row is not a whole number of blocks, llama.cpp falls back to a 32-block type of similar size.
TensorType fallback_type(TensorType t) {
    switch (t) {
        case TensorType::Q2_K:
        case TensorType::Q3_K:
        case TensorType::IQ4_XS: return TensorType::IQ4_NL;
        case TensorType::Q4_K: return TensorType::Q5_0;
        case TensorType::Q5_K: return TensorType::Q5_1;
        case TensorType::Q6_K: return TensorType::Q8_0;
        default: return TensorType::F16;
    }
}

}  // namespace

std::optional<QuantizeRecipe> find_recipe(const std::string& name) {
    const std::string u = upper(name);
    for (const auto& r : recipes()) {
        if (r.name == u) return r;
    }
    return std::nullopt;
}

std::vector<std::string> recipe_names() {
    std::vector<std::string> n;
    for (const auto& r : recipes()) n.push_back(r.name);
    return n;
}

Status quantize_model(const std::string& in_path, const std::string& out_path, const QuantizeOptions& opt) {
    if (in_path == out_path) return Error{"the output must be a different file than the input"};
    auto in = gguf::File::open(in_path);
    if (!in) return in.error();
    const HParams hp = read_hparams(*in);

    // llama-quantize's order: tensors outside the layers first, then layer by layer, by name.
    std::vector<const gguf::TensorInfo*> order;
    for (const auto& t : in->tensors()) order.push_back(&t);
    std::stable_sort(order.begin(), order.end(), [](const gguf::TensorInfo* a, const gguf::TensorInfo* b) {
        const int la = layer_of(a->name), lb = layer_of(b->name);
        return la != lb ? la < lb : a->name < b->name;
    });

    RecipeState st;
    st.n_layer = static_cast<int>(hp.n_layer);
    st.n_gqa = hp.n_head_kv > 0 ? static_cast<int>(hp.n_head / hp.n_head_kv) : 1;
    st.n_expert = static_cast<int>(hp.n_expert);
    st.has_output = in->find_tensor("output.weight") != nullptr;
    for (const auto* t : order) {
        if (contains(t->name, "attn_v.weight") || contains(t->name, "attn_qkv.weight")) ++st.n_attention_wv;
        if (contains(t->name, "ffn_down")) ++st.n_ffn_down;
    }

    gguf::Writer w = gguf::Writer::from_file(*in);
    w.tensors().clear();
    w.remove(std::string(gguf::keys::kFileType));
    w.remove(std::string(gguf::keys::kQuantizationVersion));
    // llama-quantize writes the quantization format version (2) for every target type.
    w.set(std::string(gguf::keys::kQuantizationVersion), gguf::Value::u32(2));
    w.set(std::string(gguf::keys::kFileType), gguf::Value::u32(static_cast<uint32_t>(opt.recipe.file_type)));

    bool warned_requantize = false;
    auto pool = std::make_shared<ThreadPool>(opt.threads > 0 ? opt.threads : ThreadPool::default_threads());
    for (const auto* t : order) {
        TensorType target = t->type;
        if (is_quantizable(*t)) {
            // Mixes apply to quantized targets only; F16/BF16/F32 convert every weight alike.
            const bool mix = !opt.pure && tensor_type_info(opt.recipe.base).quantized;
            target = mix ? recipe_type(opt.recipe, *t, st) : opt.recipe.base;
            if (!tensor_row_bytes(target, t->dims[0])) {
                TensorType fb = fallback_type(target);
                if (!tensor_row_bytes(fb, t->dims[0])) fb = TensorType::F16;
                if (opt.on_note) {
                    opt.on_note(t->name + ": rows of " + std::to_string(t->dims[0]) + " are not a multiple of the " +
                                std::string(tensor_type_name(target)) + " block size; using " +
                                std::string(tensor_type_name(fb)) + " instead");
                }
                target = fb;
            }
        }
        gguf::TensorToWrite out;
        out.name = t->name;
        out.dims = t->dims;
        out.type = target;
        if (target == t->type) {
            out.data = t->data;
        } else {
            if (!kernels::can_dequantize(t->type)) {
                return Error{in_path + ": tensor '" + t->name + "' has type " + std::string(tensor_type_name(t->type)) +
                             ", which cannot be converted"};
            }
            if (tensor_type_info(t->type).quantized && opt.on_note && !warned_requantize) {
                warned_requantize = true;
                opt.on_note("re-quantizing tensors that are already " + std::string(tensor_type_name(t->type)) +
                            " loses precision; prefer an F32/F16/BF16 source");
            }
            out.produce = [src = t, target, pool](std::vector<uint8_t>& bytes) {
                const uint64_t row = src->dims[0];
                const uint64_t src_rb = *tensor_row_bytes(src->type, row);
                const uint64_t dst_rb = *tensor_row_bytes(target, row);
                pool->parallel_for(static_cast<int64_t>(src->n_rows()), 8, [&](int64_t begin, int64_t end, int) {
                    std::vector<float> tmp(row);
                    for (int64_t r = begin; r < end; ++r) {
                        kernels::dequantize_row(src->type, src->data.data() + r * src_rb, tmp.data(), static_cast<int64_t>(row));
                        kernels::quantize_row(target, tmp.data(), bytes.data() + r * dst_rb, static_cast<int64_t>(row));
                    }
                });
            };
        }
        w.add_tensor(std::move(out));
    }
    return w.write(out_path, opt.on_progress);
}

}  // namespace tf::model
