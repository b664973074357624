#include "model/synth.h"

#include <algorithm>

#include <cmath>
#include <cstring>

#include "gguf/file.h"
#include "gguf/keys.h"
#include "gguf/writer.h"
#include "util/half.h"

namespace tf::model {

namespace keys = gguf::keys;
using gguf::keys::arch_key;
using gguf::Value;

const std::vector<SynthShape>& synth_shapes() {
    // Published configurations of the real models (config.json of each release).
    static const std::vector<SynthShape> shapes = {
        {"tiny-llama", "llama", 512, 128, 2, 4, 2, 32, 256, 512, 10000.0f, 1e-5f, false},
        {"smollm2-135m", "llama", 49152, 576, 30, 9, 3, 64, 1536, 8192, 100000.0f, 1e-5f, true},
        {"smollm2-360m", "llama", 49152, 960, 32, 15, 5, 64, 2560, 8192, 100000.0f, 1e-5f, true},
        {"llama-3.2-1b", "llama", 128256, 2048, 16, 32, 8, 64, 8192, 131072, 500000.0f, 1e-5f, true},
        {"llama-3.2-3b", "llama", 128256, 3072, 28, 24, 8, 128, 8192, 131072, 500000.0f, 1e-5f, true},
        {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 64, 4864, 32768, 1000000.0f, 1e-6f, true},
        {"qwen2.5-1.5b", "qwen2", 151936, 1536, 28, 12, 2, 128, 8960, 32768, 1000000.0f, 1e-6f, true},
        {"qwen3-0.6b", "qwen3", 151936, 1024, 28, 16, 8, 128, 3072, 40960, 1000000.0f, 1e-6f, true},
        {"phi-3-mini", "phi3", 32064, 3072, 32, 32, 32, 96, 8192, 4096, 10000.0f, 1e-5f, false},
        {"gemma-3-1b", "gemma3", 262144, 1152, 26, 4, 1, 256, 6912, 32768, 1000000.0f, 1e-6f, true, 0, 0, 512, 6},
        // Mixture of experts: ~3B / ~3.6B parameters active per token of 30B / 21B.
        {"qwen3-30b-a3b", "qwen3moe", 151936, 2048, 48, 32, 4, 128, 6144, 40960, 1000000.0f, 1e-6f, false, 128, 8, 0, 0, 768},
        // BERT encoder (BAAI/bge-small-en-v1.5): use --vocab-from with a WordPiece vocabulary.
        {"bge-small", "bert", 30522, 384, 12, 12, 12, 32, 1536, 512, 10000.0f, 1e-12f, false},
        {"gpt-oss-20b", "gpt-oss", 201088, 2880, 24, 64, 8, 64, 2880, 131072, 150000.0f, 1e-5f, false, 32, 4, 128, 0, 2880,
         32.0f, 4096},
    };
    return shapes;
}

const SynthShape* find_synth_shape(const std::string& name) {
    for (const auto& s : synth_shapes()) {
        if (s.name == name) return &s;
    }
    return nullptr;
}

namespace {

// splitmix64: a fixed, documented generator so the same seed gives the same model everywhere.
struct Rng {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
    float normal() { return static_cast<float>(std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform())); }
};

uint64_t hash_name(const std::string& s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

struct Spec {
    std::string name;
    std::vector<uint64_t> dims;
    bool is_norm;  // filled with ones, kept F32
    bool is_bias;  // small values, kept F32
};

std::vector<Spec> tensor_specs(const SynthShape& s) {
    std::vector<Spec> out;
    const uint64_t E = s.n_embd, V = s.n_vocab, F = s.n_ff;
    const uint64_t q = uint64_t(s.n_head) * s.head_dim, kv = uint64_t(s.n_head_kv) * s.head_dim;
    auto mat = [&](std::string n, uint64_t in, uint64_t o) { out.push_back({std::move(n), {in, o}, false, false}); };
    auto norm = [&](std::string n, uint64_t d) { out.push_back({std::move(n), {d}, true, false}); };
    auto bias = [&](std::string n, uint64_t d) { out.push_back({std::move(n), {d}, false, true}); };
    if (s.arch == "bert") {
        mat("token_embd.weight", E, V);
        out.push_back({"token_types.weight", {E, 2}, false, true});
        out.push_back({"position_embd.weight", {E, s.n_ctx}, false, true});
        norm("token_embd_norm.weight", E);
        bias("token_embd_norm.bias", E);
        for (uint32_t l = 0; l < s.n_layer; ++l) {
            const std::string b = "blk." + std::to_string(l) + ".";
            for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
                mat(b + m + ".weight", E, E);
                bias(b + m + ".bias", E);
            }
            norm(b + "attn_output_norm.weight", E);
            bias(b + "attn_output_norm.bias", E);
            mat(b + "ffn_up.weight", E, F);
            bias(b + "ffn_up.bias", F);
            mat(b + "ffn_down.weight", F, E);
            bias(b + "ffn_down.bias", E);
            norm(b + "layer_output_norm.weight", E);
            bias(b + "layer_output_norm.bias", E);
        }
        return out;
    }

    mat("token_embd.weight", E, V);
    norm("output_norm.weight", E);
    if (!s.tied_output) mat("output.weight", E, V);
    for (uint32_t l = 0; l < s.n_layer; ++l) {
        std::string b = "blk." + std::to_string(l) + ".";
        norm(b + "attn_norm.weight", E);
        if (s.arch == "phi3") {
            mat(b + "attn_qkv.weight", E, q + 2 * kv);
        } else {
            mat(b + "attn_q.weight", E, q);
            mat(b + "attn_k.weight", E, kv);
            mat(b + "attn_v.weight", E, kv);
        }
        if (s.arch == "qwen2" || s.arch == "gpt-oss") {
            bias(b + "attn_q.bias", q);
            bias(b + "attn_k.bias", kv);
            bias(b + "attn_v.bias", kv);
        }
        if (s.arch == "qwen3" || s.arch == "qwen3moe" || s.arch == "gemma3") {
            norm(b + "attn_q_norm.weight", s.head_dim);
            norm(b + "attn_k_norm.weight", s.head_dim);
        }
        mat(b + "attn_output.weight", q, E);
        if (s.arch == "gemma3") norm(b + "post_attention_norm.weight", E);
        if (s.n_expert > 0) {
            const uint64_t X = s.n_expert, Fx = s.n_ff_expert;
            const bool oss = s.arch == "gpt-oss";
            if (oss) {
                bias(b + "attn_output.bias", E);
                bias(b + "attn_sinks.weight", s.n_head);
            }
            norm(b + (oss ? "post_attention_norm.weight" : "ffn_norm.weight"), E);
            mat(b + "ffn_gate_inp.weight", E, X);
            out.push_back({b + "ffn_gate_exps.weight", {E, Fx, X}, false, false});
            out.push_back({b + "ffn_up_exps.weight", {E, Fx, X}, false, false});
            out.push_back({b + "ffn_down_exps.weight", {Fx, E, X}, false, false});
            if (oss) {
                bias(b + "ffn_gate_inp.bias", X);
                out.push_back({b + "ffn_gate_exps.bias", {Fx, X}, false, true});
                out.push_back({b + "ffn_up_exps.bias", {Fx, X}, false, true});
                out.push_back({b + "ffn_down_exps.bias", {E, X}, false, true});
            }
            continue;
        }
        norm(b + "ffn_norm.weight", E);
        if (s.arch == "phi3") {
            mat(b + "ffn_up.weight", E, 2 * F);  // gate and up fused
        } else {
            mat(b + "ffn_gate.weight", E, F);
            mat(b + "ffn_up.weight", E, F);
        }
        mat(b + "ffn_down.weight", F, E);
        if (s.arch == "gemma3") norm(b + "post_ffw_norm.weight", E);
    }
    return out;
}

void add_synthetic_vocab(gguf::Writer& w, uint32_t n_vocab) {
    // A SentencePiece-style vocabulary: control tokens, the 256 byte-fallback tokens, letters
    // and common English pieces, then filler pieces up to the model's vocabulary size.
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        tokens.emplace_back(buf);
        types.push_back(6);
    }
    static const char* words[] = {"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "on", "with", "as",
                                  "was", "be", "by", "at", "this", "from", "or", "invoice", "total", "date", "due"};
    const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space
    tokens.push_back(space);
    types.push_back(1);
    for (char c = 'a'; c <= 'z'; ++c) {
        tokens.push_back(std::string(1, c));
        types.push_back(1);
        tokens.push_back(space + std::string(1, c));
        types.push_back(1);
    }
    for (const char* wd : words) {
        // Every token text once (llama.cpp refuses a vocabulary with duplicates): "a" is a letter too.
        if (std::find(tokens.begin(), tokens.end(), space + wd) != tokens.end()) continue;
        tokens.push_back(space + wd);
        types.push_back(1);
    }
    for (uint32_t i = 0; tokens.size() < n_vocab; ++i) {
        tokens.push_back("<filler_" + std::to_string(i) + ">");
        types.push_back(1);
    }
    tokens.resize(n_vocab);
    types.resize(n_vocab);
    std::vector<float> scores(n_vocab);
    for (uint32_t i = 0; i < n_vocab; ++i) scores[i] = types[i] == 1 ? -static_cast<float>(i) : 0.0f;
    w.set(std::string(keys::kTokenizerModel), Value::string("llama"));
    w.set(std::string(keys::kTokens), Value::string_array(std::move(tokens)));
    w.set(std::string(keys::kScores), Value::f32_array(scores));
    w.set(std::string(keys::kTokenType), Value::i32_array(types));
    w.set(std::string(keys::kBosTokenId), Value::u32(1));
    w.set(std::string(keys::kEosTokenId), Value::u32(2));
    w.set(std::string(keys::kUnknownTokenId), Value::u32(0));
    w.set(std::string(keys::kAddBosToken), Value::boolean(true));
    w.set(std::string(keys::kAddEosToken), Value::boolean(false));
}

}  // namespace

Status synthesize_model(const SynthOptions& opt, const std::string& out_path) {
    const SynthShape* found = find_synth_shape(opt.like);
    if (found == nullptr) {
        std::string names;
        for (const auto& s : synth_shapes()) names += (names.empty() ? "" : ", ") + s.name;
        return Error{"unknown model shape '" + opt.like + "' (known: " + names + ")"};
    }
    if (opt.type != TensorType::F32 && opt.type != TensorType::F16 && opt.type != TensorType::BF16) {
        return Error{"type " + std::string(tensor_type_name(opt.type)) +
                     " cannot be synthesized yet: only F32, F16 and BF16 (quantize the result afterwards)"};
    }
    SynthShape s = *found;
    if (opt.n_layer > 0) {
        s.n_layer = opt.n_layer;
        s.name += "-" + std::to_string(opt.n_layer) + "l";
    }

    gguf::Writer w;
    std::optional<gguf::File> vocab;
    if (!opt.vocab_from.empty()) {
        auto v = gguf::File::open(opt.vocab_from);
        if (!v) return v.error();
        const gguf::Value* toks = v->find(keys::kTokens);
        if (toks == nullptr || !toks->is_array() || toks->array_size() == 0) {
            return Error{opt.vocab_from + ": no tokenizer.ggml.tokens: not a vocabulary file"};
        }
        s.n_vocab = static_cast<uint32_t>(toks->array_size());
        vocab = std::move(v.value());
    }

    const std::string& a = s.arch;
    w.set(std::string(keys::kArchitecture), Value::string(a));
    w.set(std::string(keys::kName), Value::string("synthetic " + s.name));
    w.set(arch_key(keys::kContextLength, a), Value::u32(s.n_ctx));
    w.set(arch_key(keys::kEmbeddingLength, a), Value::u32(s.n_embd));
    w.set(arch_key(keys::kBlockCount, a), Value::u32(s.n_layer));
    w.set(arch_key(keys::kFeedForwardLength, a), Value::u32(s.n_ff));
    w.set(arch_key(keys::kHeadCount, a), Value::u32(s.n_head));
    w.set(arch_key(keys::kHeadCountKv, a), Value::u32(s.n_head_kv));
    if (s.head_dim * s.n_head != s.n_embd) {
        w.set(arch_key(keys::kKeyLength, a), Value::u32(s.head_dim));
        w.set(arch_key(keys::kValueLength, a), Value::u32(s.head_dim));
    }
    w.set(arch_key(keys::kRopeDimensionCount, a), Value::u32(s.head_dim));
    w.set(arch_key(keys::kRopeFreqBase, a), Value::f32(s.rope_base));
    if (a == "bert") {
        w.set(arch_key(keys::kLayerNormEpsilon, a), Value::f32(s.rms_eps));
        w.set(arch_key(keys::kCausal, a), Value::boolean(false));
        w.set(a + ".pooling_type", Value::u32(2));  // CLS, as bge
    } else {
        w.set(arch_key(keys::kLayerNormRmsEpsilon, a), Value::f32(s.rms_eps));
    }
    w.set(arch_key(keys::kVocabSize, a), Value::u32(s.n_vocab));
    if (s.sliding_window) w.set(arch_key(keys::kSlidingWindow, a), Value::u32(s.sliding_window));
    if (s.swa_pattern) w.set(arch_key(keys::kSlidingWindowPattern, a), Value::u32(s.swa_pattern));
    if (s.n_expert > 0) {
        w.set(arch_key(keys::kExpertCount, a), Value::u32(s.n_expert));
        w.set(arch_key(keys::kExpertUsedCount, a), Value::u32(s.n_expert_used));
        w.set(arch_key(keys::kExpertFeedForwardLength, a), Value::u32(s.n_ff_expert));
    }
    if (s.yarn_factor > 0.0f) {
        w.set(arch_key(keys::kRopeScalingType, a), Value::string("yarn"));
        w.set(arch_key(keys::kRopeScalingFactor, a), Value::f32(s.yarn_factor));
        w.set(arch_key(keys::kRopeScalingOrigCtx, a), Value::u32(s.yarn_orig_ctx));
    }
    uint32_t file_type = opt.type == TensorType::F32 ? 0 : opt.type == TensorType::F16 ? 1 : 32;
    w.set(std::string(keys::kFileType), Value::u32(file_type));
    if (vocab) {
        for (const auto& kv : vocab->metadata()) {
            if (kv.key.rfind("tokenizer.", 0) == 0) w.set(kv.key, kv.value);
        }
    } else {
        add_synthetic_vocab(w, s.n_vocab);
    }

    // Weights ~ N(0, 0.02²): small enough that activations stay finite through every layer.
    for (const Spec& spec : tensor_specs(s)) {
        gguf::TensorToWrite t;
        t.name = spec.name;
        t.dims = spec.dims;
        bool keep_f32 = spec.is_norm || spec.is_bias;
        t.type = keep_f32 ? TensorType::F32 : opt.type;
        uint64_t seed = hash_name(spec.name, opt.seed);
        t.produce = [spec, type = t.type, seed](std::vector<uint8_t>& out) {
            Rng rng{seed};
            uint64_t n = 1;
            for (uint64_t d : spec.dims) n *= d;
            for (uint64_t i = 0; i < n; ++i) {
                float x = spec.is_norm ? 1.0f : 0.02f * rng.normal();
                if (type == TensorType::F32) {
                    std::memcpy(out.data() + 4 * i, &x, 4);
                } else {
                    uint16_t h = type == TensorType::F16 ? fp32_to_fp16(x) : fp32_to_bf16(x);
                    std::memcpy(out.data() + 2 * i, &h, 2);
                }
            }
        };
        w.add_tensor(std::move(t));
    }
    return w.write(out_path, opt.on_progress);
}

}  // namespace tf::model
