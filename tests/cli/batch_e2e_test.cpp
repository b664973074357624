// `terraferma batch`: the OpenAI Batch file format in and out, answers independent of how many
// requests ran together, resumed from the job store, invalid files refused with the line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/reference.h"
#include "support/run.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("tf-batch-" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::vector<json> lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (!l.empty()) out.push_back(json::parse(l));
    }
    return out;
}

// What must not depend on batching: everything but the generated ids, timestamps and how much
// of the prompt was found in the prefix cache.
json stable(json body) {
    body.erase("id");
    body.erase("created");
    if (body.contains("usage")) body["usage"].erase("prompt_tokens_details");
    return body;
}

TEST(BatchE2E, openai_batch_file_answered_locally) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    const std::string model = (tf::test::reference_dir() / "models/vocab-llama3-llama-Q8_0.gguf").string();
    {
        std::ofstream in(tmp.path / "in.jsonl");
        for (int i = 0; i < 6; ++i) {
            json body = {{"model", "gpt-4o-mini"}, {"messages", {{{"role", "user"}, {"content", "Request number " + std::to_string(i)}}}},
                         {"max_tokens", 6 + i}, {"temperature", 0.8}, {"seed", i}};
            if (i == 3) body["response_format"] = {{"type", "json_object"}}, body["max_tokens"] = 40;
            in << json{{"custom_id", "chat-" + std::to_string(i)}, {"method", "POST"}, {"url", "/v1/chat/completions"}, {"body", body}}.dump() << "\n";
        }
        in << R"({"custom_id":"emb","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":["a","b"]}})" << "\n";
        in << R"({"custom_id":"cmpl","method":"POST","url":"/v1/completions","body":{"prompt":"Once","max_tokens":4}})" << "\n";
        in << R"({"custom_id":"bad-url","method":"POST","url":"/v1/responses","body":{}})" << "\n";
        in << R"({"custom_id":"bad-body","method":"POST","url":"/v1/chat/completions","body":{"messages":[],"max_tokens":3}})" << "\n";
    }
    auto batch = [&](const std::string& parallel, const std::string& store, const std::string& out) {
        return tf::test::run_terraferma({"batch", (tmp.path / "in.jsonl").string(), "-o", (tmp.path / out).string(), "-m", model, "--parallel", parallel,
                                         "-t", "1", "-c", "512", "--store", (tmp.path / store).string()});
    };
    auto many = batch("4", "a.sqlite", "many.jsonl");
    ASSERT_EQ(many.exit_code, 0) << many.err;
    auto one = batch("1", "b.sqlite", "one.jsonl");
    ASSERT_EQ(one.exit_code, 0) << one.err;
    std::ifstream fm(tmp.path / "many.jsonl"), fo(tmp.path / "one.jsonl");
    std::stringstream sm, so;
    sm << fm.rdbuf();
    so << fo.rdbuf();
    const auto got = lines(sm.str()), alone = lines(so.str());
    ASSERT_EQ(got.size(), 10u);
    ASSERT_EQ(alone.size(), 10u);
    for (size_t i = 0; i < got.size(); ++i) {
        const json& l = got[i];
        ASSERT_TRUE(l.contains("id") && l.contains("custom_id") && l.contains("response") && l.contains("error")) << l.dump();
        EXPECT_EQ(l["custom_id"], alone[i]["custom_id"]) << "input order";
        if (i < 6) {
            EXPECT_EQ(l["custom_id"], "chat-" + std::to_string(i));
            ASSERT_EQ(l["response"]["status_code"], 200) << l.dump();
            const json& b = l["response"]["body"];
            EXPECT_EQ(b["object"], "chat.completion");
            EXPECT_TRUE(l["error"].is_null());
            if (i != 3) {
                EXPECT_EQ(b["usage"]["completion_tokens"], 6 + static_cast<int>(i));
            }
            if (i == 3 && b["choices"][0]["finish_reason"] == "stop") {
                EXPECT_TRUE(json::parse(b["choices"][0]["message"]["content"].get<std::string>()).is_object());
            }
            EXPECT_EQ(stable(b), stable(alone[i]["response"]["body"])) << "4 at once and one at a time must agree";
        }
    }
    EXPECT_EQ(got[6]["response"]["body"]["data"].size(), 2u);
    EXPECT_EQ(got[6]["response"]["body"], alone[6]["response"]["body"]);
    EXPECT_EQ(got[7]["response"]["body"]["object"], "text_completion");
    EXPECT_TRUE(got[8]["response"].is_null());
    EXPECT_EQ(got[8]["error"]["code"], "invalid_url");
    EXPECT_EQ(got[9]["response"]["status_code"], 400);
    EXPECT_EQ(got[9]["response"]["body"]["error"]["param"], "messages");

    // Again on the same store: nothing recomputed, the same file.
    auto again = batch("2", "a.sqlite", "again.jsonl");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.err.find("0 computed, 10 from the store"), std::string::npos) << again.err;
    std::ifstream fa(tmp.path / "again.jsonl");
    std::stringstream sa;
    sa << fa.rdbuf();
    EXPECT_EQ(sa.str(), sm.str());

    // A file that cannot be answered line by line is refused whole, naming the line.
    std::ofstream(tmp.path / "dup.jsonl") << R"({"custom_id":"x","method":"POST","url":"/v1/embeddings","body":{"input":"a"}})" << "\n\n"
                                          << R"({"custom_id":"x","method":"POST","url":"/v1/embeddings","body":{"input":"b"}})" << "\n";
    auto dup = tf::test::run_terraferma({"batch", (tmp.path / "dup.jsonl").string(), "-m", model, "--store", (tmp.path / "c.sqlite").string()});
    EXPECT_EQ(dup.exit_code, 1);
    EXPECT_NE(dup.err.find("dup.jsonl:3: custom_id 'x' appears twice"), std::string::npos) << dup.err;
    std::ofstream(tmp.path / "junk.jsonl") << "{not json\n";
    auto junk = tf::test::run_terraferma({"batch", (tmp.path / "junk.jsonl").string(), "-m", model, "--store", (tmp.path / "c.sqlite").string()});
    EXPECT_EQ(junk.exit_code, 1);
    EXPECT_NE(junk.err.find("junk.jsonl:1: not a JSON object"), std::string::npos) << junk.err;
}

}  // namespace
