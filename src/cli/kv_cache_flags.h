// --cache-type-k / --cache-type-v (llama.cpp's names): the element type
// of the KV cache, f16 (default) or q8_0 (half the memory, keys and values quantized per head);
// --swa-full (llama.cpp's name): sliding-window layers keep every position.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "model/context.h"
#include "util/result.h"

namespace tf::cli {

struct KvCacheFlags {
    std::string k = "f16", v = "f16";
    bool swa_full = false;  // --swa-full: sliding-window layers keep every position

    int swa_extra() const { return swa_full ? -1 : model::ContextOptions::kDefaultSwaExtra; }

    void add_to(CLI::App* app);
    // Sets options' k_type/v_type, or says what is wrong (a type we cannot store, or a model
    // whose heads a Q8_0 cache cannot hold).
    Status apply(const model::Model& model, model::ContextOptions& options) const;
    // The two types alone (a server checks them against each model it loads).
    Status types(TensorType& k_type, TensorType& v_type) const;
};

}  // namespace tf::cli
