// The catalogue of tensor element types, numbered as ggml numbers them (the ids are part of the
// GGUF format). It lives in util because both the file format (gguf/) and the arithmetic
// (kernels/) need it and neither may depend on the other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tf {

enum class TensorType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    Q4_0_4_4 = 31,  // interleaved layouts once written to files; ggml no longer computes with them
    Q4_0_4_8 = 32,
    Q4_0_8_8 = 33,
    TQ1_0 = 34,
    TQ2_0 = 35,
    IQ4_NL_4_4 = 36,
    IQ4_NL_4_8 = 37,
    IQ4_NL_8_8 = 38,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
};

struct TensorTypeInfo {
    TensorType type;
    std::string_view name;
    uint32_t block_size;  // elements per block
    uint32_t type_size;   // bytes per block
    bool quantized;
    bool obsolete;  // still readable and reportable, but no longer produced by ggml
};

// nullopt for an id no known GGUF writer has ever used (4 and 5 were never written to GGUF files).
const TensorTypeInfo* tensor_type_info(uint32_t id);
const TensorTypeInfo& tensor_type_info(TensorType type);
std::optional<TensorType> tensor_type_from_name(std::string_view name);  // case-insensitive
std::string_view tensor_type_name(TensorType type);

// Bytes of a row of n elements; nullopt when n is not a multiple of the block size.
std::optional<uint64_t> tensor_row_bytes(TensorType type, uint64_t n);

}  // namespace tf
