#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/reference.h"
#include "support/run.h"

namespace {

using tf::test::run_terraferma;

TEST(TokenizeE2E, prints_a_json_array_and_round_trips_through_detokenize) {
    TF_REQUIRE_REFERENCE();
    const auto model = (tf::test::reference_dir() / "models/vocab-llama3-llama-Q8_0.gguf").string();
    auto r = run_terraferma({"tokenize", "-m", model, "Invoice no. 2024-117: total 1,234.50 EUR"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto ids = nlohmann::json::parse(r.out).get<std::vector<int>>();
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), 128000);  // BOS, as the metadata says
    std::vector<std::string> args = {"detokenize", "-m", model};
    for (size_t i = 1; i < ids.size(); ++i) args.push_back(std::to_string(ids[i]));
    auto d = run_terraferma(args);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(d.out, "Invoice no. 2024-117: total 1,234.50 EUR");  // exactly, no newline

    auto no_bos = run_terraferma({"tokenize", "-m", model, "--no-bos", "x"});
    EXPECT_EQ(nlohmann::json::parse(no_bos.out).size(), 1u);
}

TEST(TokenizeE2E, parse_special_is_opt_in) {
    TF_REQUIRE_REFERENCE();
    const auto model = (tf::test::reference_dir() / "vocab/ggml-vocab-qwen2.gguf").string();
    auto plain = run_terraferma({"tokenize", "-m", model, "<|im_start|>"});
    auto special = run_terraferma({"tokenize", "-m", model, "--parse-special", "<|im_start|>"});
    EXPECT_GT(nlohmann::json::parse(plain.out).size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(special.out), nlohmann::json::parse("[151644]"));
}

TEST(TokenizeE2E, bad_ids_and_files_are_clear_errors) {
    TF_REQUIRE_REFERENCE();
    const auto model = (tf::test::reference_dir() / "vocab/ggml-vocab-gpt-2.gguf").string();
    auto r = run_terraferma({"detokenize", "-m", model, "99999999"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("token id 99999999 is outside the vocabulary of 50257 tokens"), std::string::npos) << r.err;
    auto f = run_terraferma({"tokenize", "-m", model, "--file", "/no/such/file"});
    EXPECT_EQ(f.exit_code, 1);
    auto m = run_terraferma({"tokenize", "-m", (tf::test::reference_dir() / "models/ladder-llama-F32.gguf").string() + "x", "hi"});
    EXPECT_EQ(m.exit_code, 1);
}

}  // namespace
