// `terraferma quantize` reproduces llama-quantize's files byte for byte: every file of the
// reference quantization ladder, from ladder-llama-F32.gguf, through the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "support/reference.h"
#include "support/run.h"

namespace {

std::vector<char> read_all(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

class QuantizeLadder : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizeLadder, output_is_byte_identical_to_llama_quantize) {
    TF_REQUIRE_REFERENCE();
    const auto models = tf::test::reference_dir() / "models";
    const auto out = std::filesystem::temp_directory_path() / ("tf-q-" + GetParam() + "-" + std::to_string(::getpid()) + ".gguf");
    auto r = tf::test::run_terraferma({"quantize", "-t", "2", (models / "ladder-llama-F32.gguf").string(), out.string(), GetParam()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto mine = read_all(out), theirs = read_all(models / ("ladder-llama-" + GetParam() + ".gguf"));
    std::filesystem::remove(out);
    ASSERT_EQ(mine.size(), theirs.size());
    EXPECT_TRUE(mine == theirs);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantizeLadder,
                         ::testing::Values("F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M",
                                           "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"),
                         [](const auto& info) { return info.param; });

// gpt-oss's MXFP4_MOE mix (experts MXFP4, other matrices Q8_0) from the F32 tiny-gpt-oss.
TEST(Quantize, mxfp4_moe_mix_is_byte_identical_to_llama_quantize) {
    TF_REQUIRE_REFERENCE();
    const auto models = tf::test::reference_dir() / "models";
    const auto out = std::filesystem::temp_directory_path() / ("tf-q-mxfp4-" + std::to_string(::getpid()) + ".gguf");
    auto r = tf::test::run_terraferma({"quantize", "-t", "2", (models / "tiny-gpt-oss.gguf").string(), out.string(), "MXFP4_MOE"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto mine = read_all(out), theirs = read_all(models / "tiny-gpt-oss-MXFP4_MOE.gguf");
    std::filesystem::remove(out);
    ASSERT_EQ(mine.size(), theirs.size());
    EXPECT_TRUE(mine == theirs);
}

TEST(Quantize, falls_back_when_rows_are_not_whole_super_blocks_and_says_so) {
    TF_REQUIRE_REFERENCE();
    const auto out = std::filesystem::temp_directory_path() / ("tf-q-phi-" + std::to_string(::getpid()) + ".gguf");
    auto r = tf::test::run_terraferma(
        {"quantize", (tf::test::reference_dir() / "models/tiny-phi3-Q8_0.gguf").string(), out.string(), "Q4_K_M"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("rows of 64 are not a multiple of the Q4_K block size; using Q5_0 instead"), std::string::npos)
        << r.err;
    auto j = tf::test::run_terraferma({"inspect", "--json", "--no-hash", out.string()});
    EXPECT_NE(j.out.find("\"Q5_0\""), std::string::npos);
    std::filesystem::remove(out);
}

TEST(Quantize, rejects_unknown_types_and_missing_files) {
    auto r = tf::test::run_terraferma({"quantize", "in.gguf", "out.gguf", "Q9_X"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("unknown type 'Q9_X'"), std::string::npos);
    auto m = tf::test::run_terraferma({"quantize", "/no/such.gguf", "/tmp/x.gguf", "Q4_0"});
    EXPECT_EQ(m.exit_code, 1);
    EXPECT_NE(m.err.find("/no/such.gguf"), std::string::npos);
}

}  // namespace
