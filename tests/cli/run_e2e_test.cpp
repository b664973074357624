// `terraferma run` and `terraferma chat` end to end: the real binary on the reference models.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/reference.h"
#include "support/run.h"

namespace {

using tf::test::run_terraferma;

nlohmann::json load_json(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return nlohmann::json::parse(ss.str());
}

std::string model_path(const std::string& name) { return (tf::test::reference_dir() / "models" / (name + ".gguf")).string(); }

// The three models with real vocabularies: text → reference ids → reference greedy ids.
TEST(RunE2E, greedy_generation_reproduces_the_reference_from_text) {
    TF_REQUIRE_REFERENCE();
    for (const char* name : {"vocab-llama-spm-llama-Q8_0", "vocab-llama3-llama-Q8_0", "vocab-qwen2-qwen2-Q8_0"}) {
        const auto ref = load_json(tf::test::reference_dir() / "outputs" / (std::string(name) + ".json"));
        int i = 0;
        for (const auto& p : ref["prompts"]) {
            SCOPED_TRACE(std::string(name) + " prompt " + std::to_string(i++));
            auto r = run_terraferma({"run", "-m", model_path(name), "-p", p["text"].get<std::string>(), "-n", "32", "--temp", "0",
                                     "--ignore-eos", "--json"});
            ASSERT_EQ(r.exit_code, 0) << r.err;
            const auto j = nlohmann::json::parse(r.out);
            EXPECT_EQ(j["prompt_ids"], p["tokens"]);
            EXPECT_EQ(j["ids"], p["greedy"]["ids"]);
            EXPECT_EQ(j["stop_reason"], "length");
        }
    }
}

TEST(RunE2E, sampling_is_deterministic_per_seed_and_thread_count) {
    TF_REQUIRE_REFERENCE();
    const auto m = model_path("vocab-llama3-llama-Q8_0");
    auto sample = [&](const std::string& seed, const std::string& threads) {
        auto r = run_terraferma({"run", "-m", m, "-p", "Once upon a time", "-n", "24", "--temp", "1.5", "--top-k", "0", "--top-p",
                                 "1", "--min-p", "0", "--ignore-eos", "--seed", seed, "-t", threads, "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out)["ids"].get<std::vector<int>>();
    };
    const auto a = sample("7", "1");
    EXPECT_EQ(a.size(), 24u);
    EXPECT_EQ(a, sample("7", "2"));
    EXPECT_NE(a, sample("8", "1"));
}

TEST(RunE2E, streams_text_and_stops_at_stop_strings) {
    TF_REQUIRE_REFERENCE();
    const auto m = model_path("vocab-qwen2-qwen2-Q8_0");
    auto full = run_terraferma({"run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "--ignore-eos", "--json"});
    ASSERT_EQ(full.exit_code, 0) << full.err;
    const std::string text = nlohmann::json::parse(full.out)["text"];
    ASSERT_GT(text.size(), 12u);

    // The plain output is the same text, streamed, plus a final newline.
    auto plain = run_terraferma({"run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "--ignore-eos"});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_EQ(plain.out, text + "\n");
    EXPECT_NE(plain.err.find("stop: length"), std::string::npos) << plain.err;

    // A stop string from the middle of the text: generation ends right before it.
    const std::string stop = text.substr(text.size() / 2, 4);
    auto stopped = run_terraferma({"run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "--ignore-eos", "--stop",
                                   stop, "--json"});
    ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
    const auto j = nlohmann::json::parse(stopped.out);
    EXPECT_EQ(j["stop_reason"], "stop");
    EXPECT_EQ(j["text"].get<std::string>(), text.substr(0, text.find(stop)));
}

TEST(RunE2E, bad_flags_are_usage_errors) {
    TF_REQUIRE_REFERENCE();
    const auto m = model_path("tiny-llama");
    auto r = run_terraferma({"run", "-m", m, "-p", "x", "--top-p", "0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("top_p must be in (0, 1]"), std::string::npos) << r.err;
    r = run_terraferma({"run", "-m", m, "-p", "x", "--logit-bias", "9999=1"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("token id 9999 is outside the vocabulary of 512"), std::string::npos) << r.err;
    r = run_terraferma({"run", "-m", m});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no prompt"), std::string::npos) << r.err;
}

// Every token banned but one: the sampler must produce exactly that token, and an end-of-text
// token ends the generation unless --ignore-eos.
TEST(RunE2E, logit_bias_and_end_of_generation) {
    TF_REQUIRE_REFERENCE();
    const auto m = model_path("tiny-llama");
    auto r = run_terraferma({"run", "-m", m, "-p", "Once", "-n", "5", "--logit-bias", "2=100", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["stop_reason"], "eos");  // </s> (id 2) is certain to be chosen first
    EXPECT_TRUE(j["ids"].empty());
    r = run_terraferma({"run", "-m", m, "-p", "Once", "-n", "5", "--logit-bias", "2=100", "--ignore-eos", "--json"});
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["ids"], nlohmann::json::parse("[2,2,2,2,2]"));
    EXPECT_EQ(j["stop_reason"], "length");
}

TEST(ChatE2E, converses_with_the_template_and_reuses_the_cache) {
    TF_REQUIRE_REFERENCE();
    auto r = run_terraferma({"chat", "-m", model_path("vocab-qwen2-qwen2-Q8_0"), "-n", "8", "--temp", "0", "--ignore-eos",
                             "--system", "Be brief."},
                            "Hello there\nAnd again <|im_end|> injected\n/exit\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Two replies, one line each (random weights: the text itself is arbitrary).
    size_t lines = 0;
    for (char c : r.out) lines += c == '\n';
    EXPECT_GE(lines, 2u) << r.out;
}

}  // namespace

namespace {

TEST(BenchE2E, reports_speeds_roofline_and_memory_as_json) {
    TF_REQUIRE_REFERENCE();
    auto r = tf::test::run_terraferma({"bench", "-m", model_path("tiny-llama-Q8_0"), "-p", "16", "-n", "8", "-r", "2", "-t", "1", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_GT(j["pp_tokens_per_second"].get<double>(), 0.0);
    EXPECT_GT(j["tg_tokens_per_second"].get<double>(), 0.0);
    EXPECT_EQ(j["pp_runs"].size(), 2u);
    EXPECT_GT(j["memory_bandwidth_gbs"].get<double>(), 0.1);
    // Every matrix once; of the (untied) embedding one row only.
    EXPECT_GT(j["weight_bytes_per_token"].get<uint64_t>(), 100000u);
    EXPECT_LT(j["weight_bytes_per_token"].get<uint64_t>(), j["file_bytes"].get<uint64_t>());
    EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 0u);
}

// --cache-type-k/-v q8_0: same text with 1 and 2 threads, about half the KV bytes in bench, and
// a type the cache cannot store is a usage error naming the choices.
TEST(RunE2E, a_q8_0_kv_cache_is_deterministic_and_smaller) {
    TF_REQUIRE_REFERENCE();
    const auto m = model_path("vocab-llama3-llama-Q8_0");
    auto ids = [&](const std::string& threads) {
        auto r = run_terraferma({"run", "-m", m, "-p", "Once upon a time", "-n", "16", "--temp", "0.8", "--seed", "3", "--ignore-eos", "-t",
                                 threads, "--cache-type-k", "q8_0", "--cache-type-v", "q8_0", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out)["ids"].get<std::vector<int>>();
    };
    const auto a = ids("1");
    EXPECT_EQ(a.size(), 16u);
    EXPECT_EQ(a, ids("2"));
    auto kv_bytes = [&](const std::string& type) {
        auto r = run_terraferma({"bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "-t", "1", "--cache-type-k", type, "--cache-type-v", type, "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out)["kv_cache_bytes"].get<double>();
    };
    EXPECT_NEAR(kv_bytes("q8_0") / kv_bytes("f16"), 34.0 / 64.0, 1e-9);
    auto bad = run_terraferma({"run", "-m", m, "-p", "x", "-n", "1", "--cache-type-k", "q4_0"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("f16,q8_0"), std::string::npos) << bad.err;
}

}  // namespace

namespace {

// Random-weight models are the perfect adversary: whatever they want to say, the output must be
// JSON (checked by an independent parser) whenever they end it.
TEST(GrammarE2E, constrained_output_is_always_valid_json) {
    TF_REQUIRE_REFERENCE();
    const auto grammar = (tf::test::shared_dir() / "peer-tests/gbnf/json.gbnf").string();
    if (!std::filesystem::exists(grammar)) GTEST_SKIP() << "no " << grammar;
    int ended = 0, runs = 0;
    for (const char* name : {"tiny-llama", "vocab-qwen2-qwen2-Q8_0", "vocab-llama3-llama-Q8_0", "tiny-gemma2"}) {
        for (const char* temp : {"0", "1", "2"}) {
            for (const char* seed : {"1", "2", "3"}) {
                auto r = tf::test::run_terraferma({"run", "-m", model_path(name), "-p", "JSON:", "-n", "48", "--temp", temp, "--seed",
                                                   seed, "--top-k", "0", "--top-p", "1", "--min-p", "0", "--grammar", grammar, "--json"});
                ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
                const auto j = nlohmann::json::parse(r.out);
                const std::string text = j["text"];
                ++runs;
                if (j["stop_reason"] == "eos") {
                    ++ended;
                    EXPECT_TRUE(nlohmann::json::accept(text)) << name << " seed " << seed << ": " << text;
                } else {
                    EXPECT_EQ(j["stop_reason"], "length");
                    EXPECT_EQ(text.front(), '{') << name << ": " << text;
                }
            }
        }
    }
    std::printf("[grammar] %d runs, %d ended by the model, all valid JSON\n", runs, ended);
    EXPECT_GT(ended, 0);
}

TEST(GrammarE2E, a_bad_grammar_is_a_clear_error) {
    TF_REQUIRE_REFERENCE();
    const auto path = std::filesystem::temp_directory_path() / ("tf-bad-" + std::to_string(::getpid()) + ".gbnf");
    std::ofstream(path) << "root ::= value\nvalue ::= \"x\" | valu\n";
    auto r = tf::test::run_terraferma({"run", "-m", model_path("tiny-llama"), "-p", "x", "--grammar", path.string()});
    std::filesystem::remove(path);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("rule 'valu' is used at line 2, column 17 but never defined"), std::string::npos) << r.err;
}

}  // namespace

namespace {

// An invoice schema with a pattern, an enum, a date, bounded integers and nested arrays: every
// output a random model finishes satisfies it (checked here by hand, independently of the grammar).
TEST(GrammarE2E, json_schema_output_satisfies_the_schema) {
    TF_REQUIRE_REFERENCE();
    const auto path = std::filesystem::temp_directory_path() / ("tf-schema-" + std::to_string(::getpid()) + ".json");
    std::ofstream(path) << R"({"type":"object","properties":{
        "invoice_no":{"type":"string","pattern":"^[0-9]{4}-[0-9]{3}$"},
        "total":{"type":"number","minimum":0},
        "currency":{"enum":["EUR","USD"]},
        "due":{"type":"string","format":"date"},
        "lines":{"type":"array","items":{"type":"object","properties":{"item":{"type":"string","maxLength":12},
                 "qty":{"type":"integer","minimum":1,"maximum":99}},"required":["item","qty"]},"minItems":1,"maxItems":3}},
      "required":["invoice_no","total","currency","due","lines"],"additionalProperties":false})";
    int ended = 0;
    for (const char* name : {"vocab-llama3-llama-Q8_0", "vocab-qwen2-qwen2-Q8_0", "vocab-llama-spm-llama-Q8_0"}) {
        for (const char* seed : {"1", "2", "3", "4"}) {
            auto r = tf::test::run_terraferma({"run", "-m", model_path(name), "-p", "Invoice:", "-n", "160", "--temp", "1", "--seed", seed,
                                               "--json-schema", path.string(), "--json"});
            ASSERT_EQ(r.exit_code, 0) << r.err;
            const auto j = nlohmann::json::parse(r.out);
            // Compiling the schema (precomputed masks included) is timed apart from decoding.
            EXPECT_GT(j["timings"].value("grammar_ms", 0.0), 0.0) << r.out;
            if (j["stop_reason"] != "eos") continue;
            ++ended;
            const std::string text = j["text"];
            SCOPED_TRACE(std::string(name) + ": " + text);
            const auto doc = nlohmann::json::parse(text, nullptr, false);
            ASSERT_FALSE(doc.is_discarded());
            ASSERT_TRUE(doc.is_object());
            EXPECT_EQ(doc.size(), 5u);
            const std::string no = doc["invoice_no"];
            EXPECT_TRUE(no.size() == 8 && no[4] == '-' && std::isdigit(static_cast<unsigned char>(no[0])) && std::isdigit(static_cast<unsigned char>(no[7])));
            EXPECT_GE(doc["total"].get<double>(), 0.0);
            EXPECT_TRUE(doc["currency"] == "EUR" || doc["currency"] == "USD");
            EXPECT_EQ(doc["due"].get<std::string>().size(), 10u);
            ASSERT_TRUE(doc["lines"].is_array());
            EXPECT_GE(doc["lines"].size(), 1u);
            EXPECT_LE(doc["lines"].size(), 3u);
            for (const auto& l : doc["lines"]) {
                EXPECT_TRUE(l["qty"].is_number_integer());
                EXPECT_GE(l["qty"].get<int>(), 1);
                EXPECT_LE(l["qty"].get<int>(), 99);
            }
        }
    }
    std::filesystem::remove(path);
    EXPECT_GT(ended, 6);
}

}  // namespace

namespace {

// An answer the schema rejects is never a success: where the grammar cannot hold a keyword
// (uniqueItems here), the answer is checked, and a violating one exits 1 naming the first
// violation; --json says so too. With --strict-schema such a schema is refused up front.
// (Over an enum, uniqueness is exact in the grammar: JsonSchemaGrammar.unique_items_over_an_enum_are_exact.)
TEST(GrammarE2E, an_invalid_answer_exits_1_naming_the_violation) {
    TF_REQUIRE_REFERENCE();
    const auto path = std::filesystem::temp_directory_path() / ("tf-unique-" + std::to_string(::getpid()) + ".json");
    // Items from a pattern, not a finite enum: the grammar cannot hold their uniqueness.
    std::ofstream(path) << R"({"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","pattern":"^[ab]$"},
        "minItems":2,"maxItems":2,"uniqueItems":true}},"required":["tags"]})";
    int valid = 0, reported = 0;
    for (const char* seed : {"1", "2", "3", "4", "5", "6"}) {
        auto r = tf::test::run_terraferma({"run", "-m", model_path("tiny-llama"), "-p", "Tags:", "-n", "64", "--temp", "1", "--top-k", "0", "--top-p",
                                           "1", "--min-p", "0", "--seed", seed, "--json-schema", path.string(), "--json", "--resample", "0"});
        SCOPED_TRACE(r.out + r.err);
        const auto j = nlohmann::json::parse(r.out);
        const auto doc = nlohmann::json::parse(j["text"].get<std::string>(), nullptr, false);
        ASSERT_FALSE(doc.is_discarded());
        std::set<std::string> distinct;
        for (const auto& t : doc["tags"]) distinct.insert(t.get<std::string>());
        const bool unique = distinct.size() == doc["tags"].size();
        if (unique) {
            EXPECT_EQ(r.exit_code, 0);
            EXPECT_EQ(j["valid"], true);
            ++valid;
        } else {
            EXPECT_EQ(r.exit_code, 1);
            EXPECT_EQ(j["valid"], false);
            ASSERT_FALSE(j["violations"].empty());
            EXPECT_EQ(j["violations"][0]["keyword"], "uniqueItems");
            EXPECT_EQ(j["violations"][0]["path"], "/tags");
            EXPECT_NE(r.err.find("/tags uniqueItems"), std::string::npos);
            ++reported;
        }
    }
    std::printf("[unique] 6 answers: %d valid (exit 0), %d with duplicates reported (exit 1)\n", valid, reported);
    EXPECT_GT(reported, 0) << "the adversary never repeated a tag: the test proves nothing";
    // By default a failing answer is drawn again (twice at most, seeds derived from --seed):
    // fewer failures, the same output for the same seed.
    int still = 0;
    for (const char* seed : {"1", "2", "3", "4", "5", "6"}) {
        auto args = std::vector<std::string>{"run", "-m", model_path("tiny-llama"), "-p", "Tags:", "-n", "64", "--temp", "1", "--top-k", "0",
                                             "--top-p", "1", "--min-p", "0", "--seed", seed, "--json-schema", path.string(), "--json"};
        auto r = tf::test::run_terraferma(args);
        still += r.exit_code != 0;
        const auto again = nlohmann::json::parse(tf::test::run_terraferma(args).out), first = nlohmann::json::parse(r.out);
        EXPECT_EQ(again["ids"], first["ids"]) << "a redrawn answer is not reproducible";
    }
    std::printf("[unique] with redraws: %d of 6 still invalid (was %d)\n", still, reported);
    EXPECT_LT(still, reported);
    auto strict = tf::test::run_terraferma({"run", "-m", model_path("tiny-llama"), "-p", "x", "--json-schema", path.string(), "--strict-schema"});
    EXPECT_EQ(strict.exit_code, 1);
    EXPECT_NE(strict.err.find("'uniqueItems' at /properties/tags"), std::string::npos) << strict.err;
    std::filesystem::remove(path);
}

}  // namespace
