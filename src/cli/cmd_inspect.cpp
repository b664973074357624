// terraferma inspect MODEL [--json] [--tensors] [--metadata] [--no-hash]
#include <charconv>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/model_argument.h"
#include "gguf/file.h"
#include "model/hparams.h"
#include "util/format.h"
#include "util/progress.h"
#include "util/sha256.h"

namespace tf::cli {

namespace {

using nlohmann::ordered_json;

// GGUF stores f32; print the shortest decimal that reads back as the same float (1e-05, not 9.99e-06).
double clean_float(float f) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, f);
    return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

ordered_json value_json(const gguf::Value& v) {
    if (v.is_string()) return *v.as_string();
    if (v.is_array()) {
        ordered_json a = {{"type", "array"},
                          {"element_type", std::string(gguf::value_type_name(v.array_type()))},
                          {"length", v.array_size()}};
        return a;
    }
    if (v.type() == gguf::ValueType::BOOL) return *v.as_bool();
    if (v.type() == gguf::ValueType::F32) {
        float f;
        std::memcpy(&f, v.scalar_bytes(), 4);
        return clean_float(f);
    }
    if (v.type() == gguf::ValueType::F64) return *v.as_double();
    if (v.type() == gguf::ValueType::U64) return *v.as_uint();
    return *v.as_int();
}

struct TypeTotals {
    uint64_t count = 0, elements = 0, bytes = 0;
};

ordered_json build_json(const gguf::File& f, const model::HParams& hp, const model::TokenizerSummary& tok,
                        const std::string& sha, bool with_tensors, bool with_metadata) {
    ordered_json j;
    j["path"] = f.label();
    j["file_size"] = f.total_size();
    if (!sha.empty()) j["sha256"] = sha;
    j["gguf_version"] = f.version();
    j["alignment"] = f.alignment();
    j["architecture"] = hp.arch;
    j["name"] = hp.name;

    ordered_json h;
    h["context_length"] = hp.n_ctx_train;
    h["embedding_length"] = hp.n_embd;
    h["block_count"] = hp.n_layer;
    h["feed_forward_length"] = hp.n_ff;
    if (!hp.n_ff_per_layer.empty()) h["feed_forward_length_per_layer"] = hp.n_ff_per_layer;
    h["head_count"] = hp.n_head;
    if (!hp.n_head_per_layer.empty()) h["head_count_per_layer"] = hp.n_head_per_layer;
    h["head_count_kv"] = hp.n_head_kv;
    if (!hp.n_head_kv_per_layer.empty()) h["head_count_kv_per_layer"] = hp.n_head_kv_per_layer;
    h["key_length"] = hp.n_embd_head_k;
    h["value_length"] = hp.n_embd_head_v;
    h["vocab_size"] = hp.n_vocab;
    if (hp.norm_rms_eps > 0) h["layer_norm_rms_epsilon"] = clean_float(hp.norm_rms_eps);
    if (hp.norm_eps > 0) h["layer_norm_epsilon"] = clean_float(hp.norm_eps);
    ordered_json rope;
    rope["dimension_count"] = hp.n_rot;
    rope["freq_base"] = clean_float(hp.rope_freq_base);
    if (hp.sliding_window && hp.rope_freq_base_swa != hp.rope_freq_base)
        rope["freq_base_swa"] = clean_float(hp.rope_freq_base_swa);
    rope["scaling_type"] = model::rope_scaling_name(hp.rope_scaling);
    rope["freq_scale"] = clean_float(hp.rope_freq_scale);
    if (hp.rope_scaling != model::RopeScaling::None) rope["original_context_length"] = hp.rope_orig_ctx;
    rope["freq_factors"] = hp.has_rope_freqs_tensor;
    h["rope"] = rope;
    h["expert_count"] = hp.n_expert;
    h["expert_used_count"] = hp.n_expert_used;
    if (hp.n_expert) h["expert_feed_forward_length"] = hp.n_ff_expert;
    h["sliding_window"] = hp.sliding_window;
    if (hp.sliding_window) h["sliding_window_pattern"] = hp.swa_pattern;
    if (hp.attn_softcap > 0) h["attn_logit_softcapping"] = clean_float(hp.attn_softcap);
    if (hp.final_softcap > 0) h["final_logit_softcapping"] = clean_float(hp.final_softcap);
    if (!hp.causal) h["causal"] = false;
    h["defaulted"] = hp.defaulted;
    j["hparams"] = h;
    if (!hp.missing.empty()) j["missing_keys"] = hp.missing;

    ordered_json t;
    t["model"] = tok.model;
    t["pre"] = tok.pre;
    t["n_tokens"] = tok.n_tokens;
    t["n_merges"] = tok.n_merges;
    auto opt = [](const std::optional<int64_t>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); };
    t["bos_token_id"] = opt(tok.bos_id);
    t["eos_token_id"] = opt(tok.eos_id);
    t["unknown_token_id"] = opt(tok.unk_id);
    t["padding_token_id"] = opt(tok.pad_id);
    t["add_bos_token"] = tok.add_bos ? ordered_json(*tok.add_bos) : ordered_json(nullptr);
    t["add_eos_token"] = tok.add_eos ? ordered_json(*tok.add_eos) : ordered_json(nullptr);
    t["chat_template"] = tok.has_chat_template;
    j["tokenizer"] = t;

    std::map<std::string, TypeTotals> by_type;
    TypeTotals all;
    for (const auto& ti : f.tensors()) {
        auto& bt = by_type[std::string(tensor_type_name(ti.type))];
        bt.count++;
        bt.elements += ti.n_elements;
        bt.bytes += ti.n_bytes;
        all.count++;
        all.elements += ti.n_elements;
        all.bytes += ti.n_bytes;
    }
    ordered_json tj;
    tj["count"] = all.count;
    tj["n_elements"] = all.elements;
    tj["bytes"] = all.bytes;
    ordered_json bt = ordered_json::object();
    for (const auto& [name, tt] : by_type)
        bt[name] = {{"count", tt.count}, {"n_elements", tt.elements}, {"bytes", tt.bytes}};
    tj["by_type"] = bt;
    if (with_tensors) {
        ordered_json list = ordered_json::array();
        for (const auto& ti : f.tensors()) {
            list.push_back({{"name", ti.name},
                            {"type", std::string(tensor_type_name(ti.type))},
                            {"shape", ti.dims},
                            {"offset", f.data_offset() + ti.offset},
                            {"bytes", ti.n_bytes}});
        }
        tj["list"] = list;
    }
    j["tensors"] = tj;
    if (with_metadata) {
        ordered_json m = ordered_json::object();
        for (const auto& kv : f.metadata()) m[kv.key] = value_json(kv.value);
        j["metadata"] = m;
    }
    return j;
}

void print_text(const ordered_json& j, const gguf::File& f, bool with_tensors, bool with_metadata) {
    auto line = [](const char* k, const std::string& v) { std::printf("%-26s %s\n", k, v.c_str()); };
    line("file", j["path"].get<std::string>());
    line("size", human_bytes(f.total_size()) + " (" + std::to_string(f.total_size()) + " bytes), GGUF v" +
                     std::to_string(f.version()) + ", alignment " + std::to_string(f.alignment()));
    if (j.contains("sha256")) line("sha256", j["sha256"].get<std::string>());
    std::string arch = j["architecture"].get<std::string>();
    std::string name = j["name"].get<std::string>();
    line("architecture", arch.empty() ? "(none)" : arch + (name.empty() ? "" : "  (" + name + ")"));
    const auto& tj = j["tensors"];
    line("parameters", human_count(tj["n_elements"].get<uint64_t>()) + " in " +
                           std::to_string(tj["count"].get<uint64_t>()) + " tensors, " +
                           human_bytes(tj["bytes"].get<uint64_t>()));
    for (const auto& [type, tt] : tj["by_type"].items()) {
        line(("  " + type).c_str(),
             std::to_string(tt["count"].get<uint64_t>()) + " tensors, " + human_bytes(tt["bytes"].get<uint64_t>()));
    }
    std::printf("hyperparameters\n");
    const auto& h = j["hparams"];
    std::set<std::string> defaulted = h["defaulted"].get<std::set<std::string>>();
    for (const auto& [k, v] : h.items()) {
        if (k == "defaulted") continue;
        if (k == "rope") {
            for (const auto& [rk, rv] : v.items()) {
                std::string d = defaulted.count("rope." + rk) ? "  (default)" : "";
                line(("  rope." + rk).c_str(), rv.dump() + d);
            }
            continue;
        }
        std::string d = defaulted.count(k) ? "  (default)" : "";
        line(("  " + k).c_str(), (v.is_string() ? v.get<std::string>() : v.dump()) + d);
    }
    if (j.contains("missing_keys")) line("missing keys", j["missing_keys"].dump());
    const auto& t = j["tokenizer"];
    std::printf("tokenizer\n");
    line("  model", t["model"].get<std::string>().empty() ? "(none)" : t["model"].get<std::string>());
    line("  pre-tokenizer", t["pre"].get<std::string>().empty() ? "(none)" : t["pre"].get<std::string>());
    line("  tokens",
         std::to_string(t["n_tokens"].get<uint64_t>()) +
             (t["n_merges"].get<uint64_t>() ? ", " + std::to_string(t["n_merges"].get<uint64_t>()) + " merges" : ""));
    for (const char* k :
         {"bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id", "add_bos_token", "add_eos_token"}) {
        if (!t[k].is_null()) line((std::string("  ") + k).c_str(), t[k].dump());
    }
    line("  chat template", t["chat_template"].get<bool>() ? "present" : "none");
    if (with_metadata) {
        std::printf("metadata (%zu keys)\n", f.metadata().size());
        for (const auto& kv : f.metadata()) {
            std::printf("  %-44s %-7s %s\n", kv.key.c_str(),
                        std::string(gguf::value_type_name(kv.value.type())).c_str(),
                        kv.value.to_display_string(6).c_str());
        }
    }
    if (with_tensors) {
        std::printf("tensors\n");
        for (const auto& ti : f.tensors()) {
            std::printf("  %-40s %-8s %-20s %s\n", ti.name.c_str(), std::string(tensor_type_name(ti.type)).c_str(),
                        ti.shape_string().c_str(), human_bytes(ti.n_bytes).c_str());
        }
    }
}

}  // namespace

void add_inspect_command(CLI::App& root, Commands& commands) {
    struct Options {
        std::string model;
        bool json = false, tensors = false, metadata = false, no_hash = false;
    };
    auto opt = std::make_shared<Options>();
    CLI::App* app = root.add_subcommand("inspect",
                                        "Show a GGUF model's architecture, hyperparameters, vocabulary, "
                                        "tensor types, size and SHA-256");
    app->add_option("model", opt->model, "GGUF file or store name")->required()->transform(model_reference());
    app->add_option("-m,--model", opt->model, "GGUF file or store name (same as the positional argument)")
        ->transform(model_reference());
    app->add_flag("--json", opt->json, "Print one JSON object on stdout");
    app->add_flag("--tensors", opt->tensors, "List every tensor (name, type, shape, bytes)");
    app->add_flag("--metadata", opt->metadata, "List every metadata key");
    app->add_flag("--no-hash", opt->no_hash, "Skip the SHA-256 of the file (faster on multi-GB models)");

    commands.push_back({app, [opt]() {
                            auto file = gguf::File::open(opt->model);
                            if (!file) {
                                print_error("inspect", file.error().message);
                                return kExitFailure;
                            }
                            std::string sha;
                            if (!opt->no_hash) {
                                Progress progress("sha256", file->total_size() > (uint64_t(256) << 20));
                                sha = file->content_sha256([&](size_t d, size_t t) { progress.update(d, t); });
                            }
                            model::HParams hp = model::read_hparams(*file);
                            model::TokenizerSummary tok = model::read_tokenizer_summary(*file);
                            ordered_json j = build_json(*file, hp, tok, sha, opt->tensors, opt->metadata);
                            if (opt->json) {
                                std::printf("%s\n",
                                            j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
                            } else {
                                print_text(j, *file, opt->tensors, opt->metadata);
                            }
                            return kExitOk;
                        }});
}

}  // namespace tf::cli
