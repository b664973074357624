#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/reference.h"
#include "support/run.h"

namespace {

using tf::test::run_terraferma;

TEST(LogitsE2E, prints_the_contract_json_and_writes_the_last_vector) {
    TF_REQUIRE_REFERENCE();
    const auto model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    const auto out = (std::filesystem::temp_directory_path() / ("tf-logits-" + std::to_string(::getpid()) + ".bin")).string();
    auto r = run_terraferma({"logits", "-m", model, "-p", "Once upon a time", "--all-positions", "--top", "3", "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["n_vocab"], 512);
    const auto ref = nlohmann::json::parse(std::ifstream(tf::test::reference_dir() / "outputs/tiny-llama.json"));
    EXPECT_EQ(j["tokens"], ref["prompts"][0]["tokens"]);
    ASSERT_EQ(j["positions"].size(), j["tokens"].size());
    for (size_t i = 0; i < j["positions"].size(); ++i) {
        EXPECT_EQ(j["positions"][i]["pos"], i);
        EXPECT_EQ(j["positions"][i]["top"].size(), 3u);
        EXPECT_EQ(j["positions"][i]["top"][0][0], ref["prompts"][0]["positions"][i]["top"][0][0]);
    }
    EXPECT_EQ(std::filesystem::file_size(out), 512u * 4);
    std::filesystem::remove(out);
}

TEST(LogitsE2E, bad_input_is_a_clear_error) {
    TF_REQUIRE_REFERENCE();
    const auto model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    auto r = run_terraferma({"logits", "-m", model, "--ids", "1,99999"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("token id 99999 is outside the vocabulary of 512"), std::string::npos) << r.err;
    auto g = run_terraferma({"logits", "-m", (tf::test::reference_dir() / "vocab/ggml-vocab-gpt-2.gguf").string(), "--ids", "1"});
    EXPECT_EQ(g.exit_code, 1);
    EXPECT_NE(g.err.find("architecture 'gpt2' is not supported yet"), std::string::npos) << g.err;
}

}  // namespace
