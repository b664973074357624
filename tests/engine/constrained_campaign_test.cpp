// The structured-output promise, tested the adversarial way: random-weight models, random
// prompts, greedy and sampled decoding, real-world schemas — every answer is JSON valid against
// its schema (checked by the validator, which itself passes the official JSON-Schema-Test-Suite),
// those the token limit cuts off included: they close in time. 1000 runs in the release build;
// fewer under the sanitizers.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/generate.h"
#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "sampling/jsonschema/validator.h"
#include "support/reference.h"

namespace {

using ojson = nlohmann::ordered_json;

#if defined(__SANITIZE_ADDRESS__)
constexpr int kSeedsPerPair = 2;
#else
constexpr int kSeedsPerPair = 40;
#endif

// One test per model, so CTest runs them side by side.
class ConstrainedCampaign : public ::testing::TestWithParam<const char*> {};

TEST_P(ConstrainedCampaign, every_answer_is_valid_against_its_schema) {
    TF_REQUIRE_REFERENCE();
    const char* model_name = GetParam();
    const std::filesystem::path dir = std::filesystem::path(TF_SOURCE_DIR) / "bench" / "schemas";
    std::vector<std::pair<std::string, ojson>> schemas;
    for (const char* name : {"support_ticket", "address", "product_review", "openai_tool_call", "receipt"}) {
        std::ifstream f(dir / (std::string(name) + ".json"));
        ASSERT_TRUE(f) << name;
        std::stringstream ss;
        ss << f.rdbuf();
        schemas.emplace_back(name, ojson::parse(ss.str())["schema"]);
    }
    int runs = 0, finished = 0, closed = 0, valid = 0;
    const auto t0 = std::chrono::steady_clock::now();
    {
        auto m = tf::model::Model::load((tf::test::reference_dir() / "models" / (std::string(model_name) + ".gguf")).string());
        ASSERT_TRUE(m.ok()) << model_name;
        auto tok = tf::tok::Tokenizer::from_file(*(*m)->file);
        ASSERT_TRUE(tok.ok());
        auto trie = std::make_shared<const tf::grammar::TokenTrie>(*tok);
        tf::engine::Session session(**m, *tok, tf::model::ContextOptions{512, 2, 1, tf::model::AttentionNumerics::Float});
        for (const auto& [schema_name, schema] : schemas) {
            auto gbnf = tf::jsonschema::schema_to_gbnf(schema);
            ASSERT_TRUE(gbnf.ok()) << schema_name << ": " << gbnf.error().message;
            auto g = tf::grammar::parse_gbnf(*gbnf);
            ASSERT_TRUE(g.ok());
            auto grammar = std::make_shared<const tf::grammar::Grammar>(std::move(g.value()));
            auto validator = tf::jsonschema::Validator::compile(schema);
            ASSERT_TRUE(validator.ok());
            for (int seed = 1; seed <= kSeedsPerPair; ++seed) {
                std::mt19937 rng(static_cast<uint32_t>(seed * 7919));
                std::vector<int32_t> prompt;
                for (int i = 0; i < 3 + seed % 5; ++i) prompt.push_back(static_cast<int32_t>(rng() % (*m)->hp.n_vocab));
                tf::engine::GenerateOptions o;
                o.max_tokens = 300;
                o.sampling.temperature = seed % 2 ? 0.0f : 1.0f;  // greedy and sampled
                o.sampling.seed = static_cast<uint64_t>(seed);
                auto c = std::make_shared<tf::grammar::GrammarConstraint>(grammar, trie, tok->vocab().eog_tokens);
                auto r = session.generate(prompt, o, nullptr, c);
                session.forget();
                ASSERT_TRUE(r.ok()) << r.error().message;
                ++runs;
                if (r->stop_reason == tf::engine::StopReason::Eos) {
                    ++finished;
                } else {
                    ASSERT_EQ(r->stop_reason, tf::engine::StopReason::Length);
                    ASSERT_TRUE(c->can_end()) << model_name << " / " << schema_name << " seed " << seed << ": cut off open:\n" << r->text;
                    ++closed;
                }
                const ojson doc = ojson::parse(r->text, nullptr, false);
                ASSERT_FALSE(doc.is_discarded()) << model_name << " / " << schema_name << " seed " << seed << ": not JSON: " << r->text;
                const auto errors = validator->validate(doc);
                ASSERT_TRUE(errors.empty()) << model_name << " / " << schema_name << " seed " << seed << ": " << errors[0].instance_path << " "
                                            << errors[0].keyword << ": " << errors[0].message << "\n" << r->text;
                ++valid;
            }
        }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[campaign] %s: %d constrained runs (5 schemas, greedy and sampled): %d ended by the model, %d closed at the limit, %d valid (%.1f s)\n",
                model_name, runs, finished, closed, valid, secs);
    EXPECT_EQ(valid, runs);
    EXPECT_GT(finished, runs / 4) << "too few answers ended by the model to mean anything";
}

INSTANTIATE_TEST_SUITE_P(Models, ConstrainedCampaign,
                         ::testing::Values("tiny-llama", "tiny-qwen2", "tiny-gemma3", "vocab-llama3-llama-Q8_0", "vocab-qwen2-qwen2-Q8_0"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                             std::string name = info.param;
                             for (char& ch : name) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return name;
                         });

}  // namespace
