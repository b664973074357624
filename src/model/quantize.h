// Rewriting a GGUF model with another weight type, with llama.cpp's per-tensor recipes for the
// mixed types users know (Q4_K_M, Q5_K_M, Q3_K_M, …) so our files match llama-quantize's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"
#include "util/tensor_type.h"

namespace tf::model {

// llama.cpp's llama_ftype numbers, stored as general.file_type.
enum class FileType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9, Q2_K = 10, Q3_K_S = 11, Q3_K_M = 12,
    Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_S = 16, Q5_K_M = 17, Q6_K = 18, IQ4_NL = 25, IQ4_XS = 30, BF16 = 32,
    MXFP4_MOE = 38,
};

struct QuantizeRecipe {
    std::string name;     // "Q4_K_M"
    FileType file_type;
    TensorType base;      // type of most 2-D weights
};

std::optional<QuantizeRecipe> find_recipe(const std::string& name);  // case-insensitive
std::vector<std::string> recipe_names();

struct QuantizeOptions {
    QuantizeRecipe recipe;
    bool pure = false;  // every 2-D weight gets exactly recipe.base (no mix, no output/embedding rules)
    int threads = 0;  // 0: all cores
    std::function<void(const std::string& message)> on_note;              // fallbacks, warnings
    std::function<void(uint64_t done, uint64_t total)> on_progress;       // tensor bytes written
};

Status quantize_model(const std::string& in_path, const std::string& out_path, const QuantizeOptions& options);

}  // namespace tf::model
