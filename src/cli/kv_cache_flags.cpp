#include "cli/kv_cache_flags.h"

namespace tf::cli {

void KvCacheFlags::add_to(CLI::App* app) {
    const auto check = CLI::IsMember({"f16", "q8_0"}, CLI::ignore_case);
    app->add_option("--cache-type-k", k, "KV cache type for keys: f16 or q8_0 (half the memory)")
        ->capture_default_str()
        ->check(check);
    app->add_option("--cache-type-v", v, "KV cache type for values: f16 or q8_0")->capture_default_str()->check(check);
    app->add_flag(
        "--swa-full", swa_full,
        "Sliding-window layers (Gemma) keep every position, not just their window: more memory, but any cached prefix "
        "can be reused");
}

Status KvCacheFlags::types(TensorType& k_type, TensorType& v_type) const {
    for (const auto& [name, out] : {std::pair{&k, &k_type}, std::pair{&v, &v_type}}) {
        const auto t = tensor_type_from_name(*name);
        if (!t || (*t != TensorType::F16 && *t != TensorType::Q8_0))
            return Error{"unknown KV cache type '" + *name + "' (f16 or q8_0)"};
        *out = *t;
    }
    return Status::success();
}

Status KvCacheFlags::apply(const model::Model& model, model::ContextOptions& options) const {
    if (Status st = types(options.k_type, options.v_type); !st) return st;
    options.swa_extra = swa_extra();
    return model::Context::check(model, options);
}

}  // namespace tf::cli
