// Hyperparameters of a model, read from GGUF metadata with the defaults llama.cpp applies when
// a key is absent. `defaulted` records which values were not in the file, so `inspect` can say so.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "util/result.h"

namespace tf::model {

enum class RopeScaling { None, Linear, Yarn, LongRope };
const char* rope_scaling_name(RopeScaling s);

struct HParams {
    std::string arch;
    std::string name;
    uint32_t n_ctx_train = 0;
    uint32_t n_embd = 0;
    uint32_t n_layer = 0;
    uint32_t n_ff = 0;            // largest over layers when per-layer
    uint32_t n_head = 0;          // largest over layers when per-layer
    uint32_t n_head_kv = 0;
    std::vector<uint32_t> n_ff_per_layer, n_head_per_layer, n_head_kv_per_layer;  // empty when uniform
    uint32_t n_embd_head_k = 0;   // key_length
    uint32_t n_embd_head_v = 0;   // value_length
    uint32_t n_rot = 0;           // rope.dimension_count
    uint32_t n_vocab = 0;
    float norm_rms_eps = 0.0f;
    float norm_eps = 0.0f;
    float rope_freq_base = 10000.0f;
    float rope_freq_base_swa = 10000.0f;
    RopeScaling rope_scaling = RopeScaling::None;
    float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor
    uint32_t rope_orig_ctx = 0;
    float rope_attn_factor = 1.0f;  // rope.scaling.attn_factor (LongRoPE / YaRN magnitude)
    float rope_freq_scale_swa = 1.0f;
    bool has_rope_freqs_tensor = false;  // Llama 3.1-style frequency factors
    bool has_longrope_factors = false;   // Phi-3 LongRoPE factors
    uint32_t n_expert = 0;
    uint32_t n_expert_used = 0;
    uint32_t n_ff_expert = 0;
    uint32_t sliding_window = 0;    // 0: no sliding-window layers
    uint32_t swa_pattern = 0;       // every swa_pattern-th layer is global (dense)
    float attn_softcap = 0.0f;      // 0: none
    float final_softcap = 0.0f;
    bool causal = true;

    std::set<std::string> defaulted;  // names of fields not present in the file
    std::vector<std::string> missing;  // required keys absent: the model cannot run

    bool uses_rms_norm() const { return norm_rms_eps > 0.0f; }
};

// Never fails on a parsed file: missing required keys are listed in `missing`.
HParams read_hparams(const gguf::File& file);

struct TokenizerSummary {
    std::string model;  // tokenizer.ggml.model ("llama" = SPM, "gpt2" = byte-level BPE, "bert", …)
    std::string pre;    // tokenizer.ggml.pre
    uint64_t n_tokens = 0;
    uint64_t n_merges = 0;
    std::optional<int64_t> bos_id, eos_id, unk_id, pad_id;
    std::optional<bool> add_bos, add_eos;
    bool has_chat_template = false;
};

TokenizerSummary read_tokenizer_summary(const gguf::File& file);

}  // namespace tf::model
