#include "util/tensor_type.h"

#include <gtest/gtest.h>

namespace {

using tf::TensorType;

TEST(TensorType, block_layouts_match_ggml) {
    struct Expect {
        TensorType t;
        uint32_t block, bytes;
    };
    const Expect table[] = {
        {TensorType::F32, 1, 4},       {TensorType::F16, 1, 2},      {TensorType::BF16, 1, 2},
        {TensorType::Q4_0, 32, 18},    {TensorType::Q4_1, 32, 20},   {TensorType::Q5_0, 32, 22},
        {TensorType::Q5_1, 32, 24},    {TensorType::Q8_0, 32, 34},   {TensorType::Q8_1, 32, 36},
        {TensorType::Q2_K, 256, 84},   {TensorType::Q3_K, 256, 110}, {TensorType::Q4_K, 256, 144},
        {TensorType::Q5_K, 256, 176},  {TensorType::Q6_K, 256, 210}, {TensorType::Q8_K, 256, 292},
        {TensorType::IQ4_NL, 32, 18},  {TensorType::IQ4_XS, 256, 136}, {TensorType::IQ2_XXS, 256, 66},
        {TensorType::IQ1_M, 256, 56},  {TensorType::TQ1_0, 256, 54}, {TensorType::MXFP4, 32, 17},
        {TensorType::NVFP4, 64, 36},   {TensorType::Q1_0, 128, 18},  {TensorType::I64, 1, 8},
    };
    for (const auto& e : table) {
        const auto& info = tf::tensor_type_info(e.t);
        EXPECT_EQ(info.block_size, e.block) << info.name;
        EXPECT_EQ(info.type_size, e.bytes) << info.name;
    }
}

TEST(TensorType, ids_four_and_five_were_never_in_gguf) {
    EXPECT_EQ(tf::tensor_type_info(4u), nullptr);
    EXPECT_EQ(tf::tensor_type_info(5u), nullptr);
    EXPECT_EQ(tf::tensor_type_info(43u), nullptr);
    EXPECT_NE(tf::tensor_type_info(31u), nullptr);  // obsolete interleaved Q4_0: still readable
}

TEST(TensorType, names_parse_case_insensitively) {
    EXPECT_EQ(tf::tensor_type_from_name("q4_k"), TensorType::Q4_K);
    EXPECT_EQ(tf::tensor_type_from_name("IQ4_XS"), TensorType::IQ4_XS);
    EXPECT_FALSE(tf::tensor_type_from_name("Q4_K_M").has_value());  // a recipe, not a type
}

TEST(TensorType, row_bytes_requires_whole_blocks) {
    EXPECT_EQ(tf::tensor_row_bytes(TensorType::Q4_K, 4096), 4096u / 256 * 144);
    EXPECT_FALSE(tf::tensor_row_bytes(TensorType::Q4_0, 33).has_value());
}

}  // namespace
