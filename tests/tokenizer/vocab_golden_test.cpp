// Every test string of every vocabulary in ../shared/reference/vocab tokenizes to exactly the ids
// llama.cpp produced (no BOS/EOS, special tokens not parsed); and the three real-vocabulary models'
// output files give the prompt tokens with BOS.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/file.h"
#include "support/reference.h"
#include "tokenizer/tokenizer.h"

namespace {

using tf::tok::TokenId;

std::string read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::string> split_inputs(const std::string& inp) {
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0;
    while (true) {
        size_t hit = inp.find(sep, pos);
        if (hit == std::string::npos) break;
        out.push_back(inp.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    return out;
}

std::vector<std::vector<TokenId>> parse_outputs(const std::string& out) {
    std::vector<std::vector<TokenId>> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<TokenId> ids;
        std::istringstream ls(line);
        long v;
        while (ls >> v) ids.push_back(static_cast<TokenId>(v));
        lines.push_back(ids);
    }
    return lines;
}

std::string ids_string(const std::vector<TokenId>& ids) {
    std::string s;
    for (TokenId id : ids) {
        s += ' ';
        s += std::to_string(id);
    }
    return s;
}

class VocabGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabGolden, every_test_string_gives_llama_cpp_ids) {
    TF_REQUIRE_REFERENCE();
    const auto base = tf::test::reference_dir() / "vocab" / ("ggml-vocab-" + GetParam() + ".gguf");
    auto file = tf::gguf::File::open(base.string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto tok = tf::tok::Tokenizer::from_file(*file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    const auto inputs = split_inputs(read_file(base.string() + ".inp"));
    const auto expected = parse_outputs(read_file(base.string() + ".out"));
    ASSERT_EQ(inputs.size(), expected.size());
    int failures = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto got = tok->encode(inputs[i], false, false);
        if (got != expected[i]) {
            ++failures;
            ADD_FAILURE() << GetParam() << " string " << i << " '" << inputs[i] << "'\n  expected" << ids_string(expected[i])
                          << "\n  got     " << ids_string(got);
        }
    }
    std::printf("[vocab %s] %zu/%zu strings exact\n", GetParam().c_str(), inputs.size() - static_cast<size_t>(failures),
                inputs.size());
}

INSTANTIATE_TEST_SUITE_P(AllVocabularies, VocabGolden,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "bert-bge", "deepseek-coder", "deepseek-llm",
                                           "falcon", "mpt", "refact", "starcoder", "llama3", "qwen2"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (auto& c : n) if (c == '-') c = '_';
                             return n;
                         });

TEST(VocabGolden, model_prompts_tokenize_like_the_reference_outputs) {
    TF_REQUIRE_REFERENCE();
    for (const char* m : {"vocab-llama-spm-llama-Q8_0", "vocab-llama3-llama-Q8_0", "vocab-qwen2-qwen2-Q8_0", "tiny-llama",
                          "tiny-phi3-Q8_0", "tiny-gemma3"}) {
        auto file = tf::gguf::File::open((tf::test::reference_dir() / "models" / (std::string(m) + ".gguf")).string());
        ASSERT_TRUE(file.ok());
        auto tok = tf::tok::Tokenizer::from_file(*file);
        ASSERT_TRUE(tok.ok()) << tok.error().message;
        auto j = nlohmann::json::parse(read_file(tf::test::reference_dir() / "outputs" / (std::string(m) + ".json")));
        for (const auto& p : j["prompts"]) {
            const auto expected = p["tokens"].get<std::vector<TokenId>>();
            EXPECT_EQ(ids_string(tok->encode(p["text"].get<std::string>(), true, false)), ids_string(expected))
                << m << ": " << p["text"];
        }
    }
}

}  // namespace
