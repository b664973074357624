#include "model/hparams.h"

#include <algorithm>

#include "gguf/keys.h"

namespace tf::model {

using gguf::keys::arch_key;
namespace keys = gguf::keys;

const char* rope_scaling_name(RopeScaling s) {
    switch (s) {
        case RopeScaling::None: return "none";
        case RopeScaling::Linear: return "linear";
        case RopeScaling::Yarn: return "yarn";
        case RopeScaling::LongRope: return "longrope";
    }
    return "none";
}

namespace {

class Reader {
  public:
    Reader(const gguf::File& f, HParams& hp) : f_(f), hp_(hp) {}

    // A u32 key; records `field` as defaulted (or missing when required) if absent.
    uint32_t u32(std::string_view pattern, const char* field, uint32_t fallback, bool required = false) {
        std::string key = arch_key(pattern, hp_.arch);
        const gguf::Value* v = f_.find(key);
        if (v != nullptr) {
            if (auto i = v->as_int(); i && *i >= 0 && *i <= UINT32_MAX) return static_cast<uint32_t>(*i);
            if (v->is_array()) return per_layer_max(*v, nullptr);
        }
        if (required) hp_.missing.push_back(key);
        hp_.defaulted.insert(field);
        return fallback;
    }

    // A key that may be a scalar or an array with one value per layer.
    uint32_t per_layer(std::string_view pattern, const char* field, std::vector<uint32_t>& per_layer_out,
                       uint32_t fallback, bool required) {
        std::string key = arch_key(pattern, hp_.arch);
        const gguf::Value* v = f_.find(key);
        if (v != nullptr && v->is_array()) return per_layer_max(*v, &per_layer_out);
        return u32(pattern, field, fallback, required);
    }

    // field == nullptr: an alternative spelling, not reported as defaulted.
    float f32(std::string_view pattern, const char* field, float fallback) {
        std::string key = arch_key(pattern, hp_.arch);
        if (auto d = f_.get_double(key)) return static_cast<float>(*d);
        if (field != nullptr) hp_.defaulted.insert(field);
        return fallback;
    }

    std::optional<std::string> str(std::string_view pattern) { return f_.get_string(arch_key(pattern, hp_.arch)); }

  private:
    static uint32_t per_layer_max(const gguf::Value& v, std::vector<uint32_t>* out) {
        uint32_t best = 0;
        for (uint64_t i = 0; i < v.array_size(); ++i) {
            auto x = v.array_int(i);
            uint32_t u = x && *x >= 0 && *x <= UINT32_MAX ? static_cast<uint32_t>(*x) : 0;
            if (out != nullptr) out->push_back(u);
            best = std::max(best, u);
        }
        if (out != nullptr && std::all_of(out->begin(), out->end(), [&](uint32_t x) { return x == best; })) out->clear();
        return best;
    }

    const gguf::File& f_;
    HParams& hp_;
};

}  // namespace

HParams read_hparams(const gguf::File& file) {
    HParams hp;
    hp.arch = file.get_string(keys::kArchitecture).value_or("");
    hp.name = file.get_string(keys::kName).value_or("");
    if (hp.arch.empty()) {
        hp.missing.push_back(std::string(keys::kArchitecture));
        return hp;
    }
    Reader r(file, hp);


    hp.n_ctx_train = r.u32(keys::kContextLength, "context_length", 0, true);
    hp.n_embd = r.u32(keys::kEmbeddingLength, "embedding_length", 0, true);
    hp.n_layer = r.u32(keys::kBlockCount, "block_count", 0, true);
    hp.n_ff = r.per_layer(keys::kFeedForwardLength, "feed_forward_length", hp.n_ff_per_layer, 0, true);
    hp.n_head = r.per_layer(keys::kHeadCount, "head_count", hp.n_head_per_layer, 0, true);
    // Absent head_count_kv means plain multi-head attention (as many KV heads as query heads).
    hp.n_head_kv = r.per_layer(keys::kHeadCountKv, "head_count_kv", hp.n_head_kv_per_layer, hp.n_head, false);
    uint32_t head_dim = hp.n_head > 0 ? hp.n_embd / hp.n_head : 0;
    hp.n_embd_head_k = r.u32(keys::kKeyLength, "key_length", head_dim);
    hp.n_embd_head_v = r.u32(keys::kValueLength, "value_length", head_dim);
    hp.n_rot = r.u32(keys::kRopeDimensionCount, "rope.dimension_count", hp.n_embd_head_k);

    if (auto v = file.get_int(arch_key(keys::kVocabSize, hp.arch))) {
        hp.n_vocab = static_cast<uint32_t>(*v);
    } else if (const gguf::Value* toks = file.find(keys::kTokens); toks != nullptr && toks->is_array()) {
        hp.n_vocab = static_cast<uint32_t>(toks->array_size());
        hp.defaulted.insert("vocab_size");
    }

    hp.norm_rms_eps = r.f32(keys::kLayerNormRmsEpsilon, "layer_norm_rms_epsilon", 0.0f);
    hp.norm_eps = r.f32(keys::kLayerNormEpsilon, "layer_norm_epsilon", 0.0f);

    hp.rope_freq_base = r.f32(keys::kRopeFreqBase, "rope.freq_base", 10000.0f);
    // Gemma 2 rotates its local layers like the global ones; other sliding-window models
    // default their local layers to base 10000, unscaled (llama.cpp's defaults).
    // gpt-oss rotates them like the global ones too (scaling included).
    const bool swa_like_global = hp.arch == "gemma2" || hp.arch == "gpt-oss";
    hp.rope_freq_base_swa = r.f32(keys::kRopeFreqBaseSwa, "rope.freq_base_swa", swa_like_global ? hp.rope_freq_base : 10000.0f);
    float factor = r.f32(keys::kRopeScalingFactor, nullptr, 0.0f);
    if (factor == 0.0f) factor = r.f32(keys::kRopeScaleLinear, nullptr, 0.0f);
    hp.rope_freq_scale = factor > 0.0f ? 1.0f / factor : 1.0f;
    hp.rope_orig_ctx = r.u32(keys::kRopeScalingOrigCtx, "rope.original_context_length", hp.n_ctx_train);
    if (factor == 0.0f) hp.defaulted.insert("rope.freq_scale");
    if (swa_like_global) hp.rope_freq_scale_swa = hp.rope_freq_scale;
    hp.rope_attn_factor = r.f32(keys::kRopeScalingAttnFactor, nullptr, 1.0f);
    std::string scaling = r.str(keys::kRopeScalingType).value_or(factor > 0.0f ? "linear" : "none");
    if (scaling == "linear") hp.rope_scaling = RopeScaling::Linear;
    else if (scaling == "yarn") hp.rope_scaling = RopeScaling::Yarn;
    else if (scaling == "longrope") hp.rope_scaling = RopeScaling::LongRope;
    hp.has_rope_freqs_tensor = file.find_tensor("rope_freqs.weight") != nullptr;
    hp.has_longrope_factors = file.find_tensor("rope_factors_long.weight") != nullptr;
    if (hp.has_longrope_factors) hp.rope_scaling = RopeScaling::LongRope;

    hp.n_expert = r.u32(keys::kExpertCount, "expert_count", 0);
    hp.n_expert_used = r.u32(keys::kExpertUsedCount, "expert_used_count", 0);
    hp.n_ff_expert = r.u32(keys::kExpertFeedForwardLength, "expert_feed_forward_length", hp.n_expert ? hp.n_ff : 0);

    // llama.cpp's defaults for the Gemma family: a 4096-token window, every 2nd (Gemma 2) or
    // 6th (Gemma 3) layer global, soft-capping 50/30 on Gemma 2 only.
    // Gemma 3 without the key has no sliding window at all.
    uint32_t window_default = hp.arch == "gemma2" ? 4096 : 0;
    hp.sliding_window = r.u32(keys::kSlidingWindow, "sliding_window", window_default);
    uint32_t pattern_default = hp.arch == "gemma2" || hp.arch == "gpt-oss" ? 2 : hp.arch == "gemma3" ? 6 : 0;
    hp.swa_pattern = r.u32(keys::kSlidingWindowPattern, "sliding_window_pattern", hp.sliding_window ? pattern_default : 0);
    hp.attn_softcap = r.f32(keys::kAttnLogitSoftcapping, "attn_logit_softcapping", hp.arch == "gemma2" ? 50.0f : 0.0f);
    hp.final_softcap = r.f32(keys::kFinalLogitSoftcapping, "final_logit_softcapping", hp.arch == "gemma2" ? 30.0f : 0.0f);
    if (auto c = file.get_bool(arch_key(keys::kCausal, hp.arch))) hp.causal = *c;

    return hp;
}

TokenizerSummary read_tokenizer_summary(const gguf::File& file) {
    TokenizerSummary t;
    t.model = file.get_string(keys::kTokenizerModel).value_or("");
    t.pre = file.get_string(keys::kTokenizerPre).value_or("");
    if (const gguf::Value* v = file.find(keys::kTokens); v != nullptr && v->is_array()) t.n_tokens = v->array_size();
    if (const gguf::Value* v = file.find(keys::kMerges); v != nullptr && v->is_array()) t.n_merges = v->array_size();
    t.bos_id = file.get_int(keys::kBosTokenId);
    t.eos_id = file.get_int(keys::kEosTokenId);
    t.unk_id = file.get_int(keys::kUnknownTokenId);
    t.pad_id = file.get_int(keys::kPaddingTokenId);
    t.add_bos = file.get_bool(keys::kAddBosToken);
    t.add_eos = file.get_bool(keys::kAddEosToken);
    t.has_chat_template = file.find(keys::kChatTemplate) != nullptr;
    return t;
}

}  // namespace tf::model
