#include "util/tensor_type.h"

#include <array>
#include <cctype>

namespace tf {

namespace {

// Block layouts: ggml-common.h of the ggml library (block_q4_0 = half d + 16 nibble bytes, …).
constexpr std::array<TensorTypeInfo, 41> kTypes = {{
    {TensorType::F32, "F32", 1, 4, false, false},
    {TensorType::F16, "F16", 1, 2, false, false},
    {TensorType::Q4_0, "Q4_0", 32, 18, true, false},
    {TensorType::Q4_1, "Q4_1", 32, 20, true, false},
    {TensorType::Q5_0, "Q5_0", 32, 22, true, false},
    {TensorType::Q5_1, "Q5_1", 32, 24, true, false},
    {TensorType::Q8_0, "Q8_0", 32, 34, true, false},
    {TensorType::Q8_1, "Q8_1", 32, 36, true, false},
    {TensorType::Q2_K, "Q2_K", 256, 84, true, false},
    {TensorType::Q3_K, "Q3_K", 256, 110, true, false},
    {TensorType::Q4_K, "Q4_K", 256, 144, true, false},
    {TensorType::Q5_K, "Q5_K", 256, 176, true, false},
    {TensorType::Q6_K, "Q6_K", 256, 210, true, false},
    {TensorType::Q8_K, "Q8_K", 256, 292, true, false},
    {TensorType::IQ2_XXS, "IQ2_XXS", 256, 66, true, false},
    {TensorType::IQ2_XS, "IQ2_XS", 256, 74, true, false},
    {TensorType::IQ3_XXS, "IQ3_XXS", 256, 98, true, false},
    {TensorType::IQ1_S, "IQ1_S", 256, 50, true, false},
    {TensorType::IQ4_NL, "IQ4_NL", 32, 18, true, false},
    {TensorType::IQ3_S, "IQ3_S", 256, 110, true, false},
    {TensorType::IQ2_S, "IQ2_S", 256, 82, true, false},
    {TensorType::IQ4_XS, "IQ4_XS", 256, 136, true, false},
    {TensorType::I8, "I8", 1, 1, false, false},
    {TensorType::I16, "I16", 1, 2, false, false},
    {TensorType::I32, "I32", 1, 4, false, false},
    {TensorType::I64, "I64", 1, 8, false, false},
    {TensorType::F64, "F64", 1, 8, false, false},
    {TensorType::IQ1_M, "IQ1_M", 256, 56, true, false},
    {TensorType::BF16, "BF16", 1, 2, false, false},
    {TensorType::Q4_0_4_4, "Q4_0_4_4", 32, 18, true, true},
    {TensorType::Q4_0_4_8, "Q4_0_4_8", 32, 18, true, true},
    {TensorType::Q4_0_8_8, "Q4_0_8_8", 32, 18, true, true},
    {TensorType::TQ1_0, "TQ1_0", 256, 54, true, false},
    {TensorType::TQ2_0, "TQ2_0", 256, 66, true, false},
    {TensorType::IQ4_NL_4_4, "IQ4_NL_4_4", 32, 18, true, true},
    {TensorType::IQ4_NL_4_8, "IQ4_NL_4_8", 32, 18, true, true},
    {TensorType::IQ4_NL_8_8, "IQ4_NL_8_8", 32, 18, true, true},
    {TensorType::MXFP4, "MXFP4", 32, 17, true, false},
    {TensorType::NVFP4, "NVFP4", 64, 36, true, false},
    {TensorType::Q1_0, "Q1_0", 128, 18, true, false},
    {TensorType::Q2_0, "Q2_0", 64, 18, true, false},
}};

constexpr size_t kMaxId = 43;

constexpr std::array<int8_t, kMaxId> build_index() {
    std::array<int8_t, kMaxId> index{};
    for (auto& v : index) v = -1;
    for (size_t i = 0; i < kTypes.size(); ++i) index[static_cast<uint32_t>(kTypes[i].type)] = static_cast<int8_t>(i);
    return index;
}
constexpr auto kIndex = build_index();

}  // namespace

const TensorTypeInfo* tensor_type_info(uint32_t id) {
    if (id >= kMaxId || kIndex[id] < 0) return nullptr;
    return &kTypes[static_cast<size_t>(kIndex[id])];
}

const TensorTypeInfo& tensor_type_info(TensorType type) { return *tensor_type_info(static_cast<uint32_t>(type)); }

std::string_view tensor_type_name(TensorType type) { return tensor_type_info(type).name; }

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
    for (const auto& t : kTypes) {
        if (t.name.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < name.size() && same; ++i) {
            same = std::toupper(static_cast<unsigned char>(name[i])) == static_cast<unsigned char>(t.name[i]);
        }
        if (same) return t.type;
    }
    return std::nullopt;
}

std::optional<uint64_t> tensor_row_bytes(TensorType type, uint64_t n) {
    const auto& info = tensor_type_info(type);
    if (n % info.block_size != 0) return std::nullopt;
    return n / info.block_size * info.type_size;
}

}  // namespace tf
