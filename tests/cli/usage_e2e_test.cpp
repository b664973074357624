// The command-line contract (CLI.md): --help everywhere, exit codes, one-line errors on stderr.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/run.h"

namespace {

using tf::test::run_terraferma;

std::filesystem::path temp_dir() {
    auto dir = std::filesystem::temp_directory_path() / ("tf-cli-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

TEST(CliUsage, every_command_has_help) {
    for (auto args : std::vector<std::vector<std::string>>{
             {"--help"}, {"inspect", "--help"}, {"models", "--help"}, {"models", "synth", "--help"}, {"quantize", "--help"}, {"tokenize", "--help"}, {"detokenize", "--help"}, {"template", "--help"}, {"logits", "--help"}}) {
        auto r = run_terraferma(args);
        EXPECT_EQ(r.exit_code, 0) << args[0];
        EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
    }
}

TEST(CliUsage, bad_usage_exits_2_with_one_line) {
    for (auto args : std::vector<std::vector<std::string>>{{}, {"inspect"}, {"frobnicate"}, {"inspect", "--bogus", "x"}}) {
        auto r = run_terraferma(args);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_EQ(r.err.rfind("terraferma: ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_TRUE(r.out.empty());
    }
}

TEST(CliUsage, missing_file_exits_1_naming_it) {
    auto r = run_terraferma({"inspect", "/no/such/model.gguf"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "terraferma: inspect: /no/such/model.gguf: No such file or directory\n");
}

TEST(CliUsage, corrupt_file_exits_1_with_offset) {
    auto p = temp_dir() / "corrupt.gguf";
    {
        std::ofstream f(p, std::ios::binary);
        f.write("GGUF\x03\0\0\0", 8);
        uint64_t huge = 1ull << 50, zero = 0;
        f.write(reinterpret_cast<const char*>(&huge), 8);
        f.write(reinterpret_cast<const char*>(&zero), 8);
    }
    auto r = run_terraferma({"inspect", p.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("byte 8: tensor_count 1125899906842624 is impossible"), std::string::npos) << r.err;
    std::filesystem::remove_all(p.parent_path());
}

TEST(CliUsage, synth_then_inspect_is_the_demo) {
    auto p = temp_dir() / "demo.gguf";
    auto s = run_terraferma({"models", "synth", "--like", "tiny-llama", "--type", "F32", p.string()});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    auto r = run_terraferma({"inspect", "--json", p.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["hparams"]["embedding_length"], 128);
    EXPECT_EQ(j["tensors"]["by_type"]["F32"]["count"], 21);
    auto bad = run_terraferma({"models", "synth", "--like", "nope", p.string()});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("unknown model shape 'nope'"), std::string::npos);
    std::filesystem::remove_all(p.parent_path());
}

}  // namespace
