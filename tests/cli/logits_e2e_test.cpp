#include <gtest/gtest.h>

#include <cmath>
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

// The three models with real vocabularies, from text: the reference's top-16 (ids in order, and
// logits to the 6 significant digits it prints) at every position of every prompt, with
// llama.cpp-compatible numerics; the default numerics give the same top-1 everywhere.
TEST(LogitsE2E, real_vocabularies_give_the_reference_top_16_at_every_position) {
    TF_REQUIRE_REFERENCE();
    for (const char* name : {"vocab-llama-spm-llama-Q8_0", "vocab-llama3-llama-Q8_0", "vocab-qwen2-qwen2-Q8_0"}) {
        SCOPED_TRACE(name);
        const auto model = (tf::test::reference_dir() / "models" / (std::string(name) + ".gguf")).string();
        const auto ref = nlohmann::json::parse(std::ifstream(tf::test::reference_dir() / "outputs" / (std::string(name) + ".json")));
        for (const auto& p : ref["prompts"]) {
            const std::string text = p["text"].get<std::string>();
            for (bool compat : {true, false}) {
                std::vector<std::string> args = {"logits", "-m", model, "-p", text, "--all-positions", "--top", "16", "-t", "2"};
                if (compat) args.push_back("--llama-cpp-attention");
                auto r = run_terraferma(args);
                ASSERT_EQ(r.exit_code, 0) << r.err;
                const auto j = nlohmann::json::parse(r.out);
                ASSERT_EQ(j["tokens"], p["tokens"]) << text;
                ASSERT_EQ(j["positions"].size(), p["positions"].size());
                for (size_t i = 0; i < p["positions"].size(); ++i) {
                    const auto& want = p["positions"][i]["top"];
                    const auto& got = j["positions"][i]["top"];
                    ASSERT_EQ(got.size(), 16u);
                    EXPECT_EQ(got[0][0], want[0][0]) << "top-1 at position " << i << (compat ? " (compatible)" : " (default)");
                    if (!compat) continue;
                    for (size_t k = 0; k < 16; ++k) {
                        EXPECT_EQ(got[k][0], want[k][0]) << "position " << i << " rank " << k;
                        const double w = want[k][1].get<double>(), g = got[k][1].get<double>();
                        EXPECT_LE(std::fabs(g - w), 5e-6 * std::max(1.0, std::fabs(w))) << "position " << i << " rank " << k;
                    }
                }
            }
        }
    }
}

// LongRoPE picks its factors by the context size: at the reference's context (512) the CLI gives
// llama.cpp's top-1 everywhere; sized to the prompt (shorter than the original 64) it does not.
TEST(LogitsE2E, the_context_size_selects_longrope_factors_as_in_llama_cpp) {
    TF_REQUIRE_REFERENCE();
    const std::string name = "tiny-phi3-longrope-Q8_0";
    const auto model = (tf::test::reference_dir() / "models" / (name + ".gguf")).string();
    const auto ref = nlohmann::json::parse(std::ifstream(tf::test::reference_dir() / "outputs" / (name + ".json")));
    int differ_without = 0;
    for (const auto& p : ref["prompts"]) {
        std::string ids;
        for (const auto& t : p["tokens"]) ids += (ids.empty() ? "" : ",") + std::to_string(t.get<int>());
        for (bool at_512 : {true, false}) {
            std::vector<std::string> args = {"logits", "-m", model, "--ids", ids, "--all-positions", "--top", "1", "--llama-cpp-attention"};
            if (at_512) args.insert(args.end(), {"-c", "512"});
            auto r = run_terraferma(args);
            ASSERT_EQ(r.exit_code, 0) << r.err;
            const auto j = nlohmann::json::parse(r.out);
            for (size_t i = 0; i < p["positions"].size(); ++i) {
                const bool same = j["positions"][i]["top"][0][0] == p["positions"][i]["top"][0][0];
                if (at_512) EXPECT_TRUE(same) << "position " << i;
                else differ_without += !same;
            }
        }
    }
    EXPECT_GT(differ_without, 0);
    auto small = run_terraferma({"logits", "-m", model, "--ids", "1,2,3,4", "-c", "3"});
    EXPECT_EQ(small.exit_code, 2);
    EXPECT_NE(small.err.find("the prompt's 4 tokens do not fit a context of 3"), std::string::npos) << small.err;
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
