#include "hub/name.h"

#include <gtest/gtest.h>

#include "hub/pull.h"

namespace {

using tf::hub::parse_model_name;
using tf::hub::Source;

TEST(HubNames, ollama_names_get_the_default_registry_namespace_and_tag) {
    auto n = parse_model_name("llama3.2");
    ASSERT_TRUE(n.ok()) << n.error().message;
    EXPECT_EQ(n->source, Source::Ollama);
    EXPECT_EQ(n->canonical(), "registry.ollama.ai/library/llama3.2:latest");
    EXPECT_EQ(n->display(), "llama3.2:latest");
    EXPECT_EQ(n->manifest_path(), "registry.ollama.ai/library/llama3.2/latest");
    auto t = parse_model_name("acme/extractor:v2");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->canonical(), "registry.ollama.ai/acme/extractor:v2");
    EXPECT_EQ(t->display(), "acme/extractor:v2");
    auto r = parse_model_name("127.0.0.1:5000/library/tiny:q8");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->host, "127.0.0.1:5000");
    EXPECT_EQ(r->display(), "127.0.0.1:5000/library/tiny:q8");
    EXPECT_EQ(r->manifest_path(), "127.0.0.1_5000/library/tiny/q8");
}

TEST(HubNames, hugging_face_names) {
    auto n = parse_model_name("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->source, Source::HuggingFace);
    EXPECT_EQ(n->namespace_, "bartowski");
    EXPECT_EQ(n->repo, "Llama-3.2-1B-Instruct-GGUF");
    EXPECT_EQ(n->tag, "Q4_K_M");
    EXPECT_EQ(parse_model_name("huggingface.co/a/b")->canonical(), "hf.co/a/b:latest");
    auto f = parse_model_name("Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf");
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->source, Source::HuggingFace);
    EXPECT_EQ(f->file, "qwen2.5-0.5b-instruct-q8_0.gguf");
    EXPECT_EQ(f->canonical(), "hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf");
}

TEST(HubNames, names_that_could_escape_the_store_are_refused) {
    for (const char* bad :
         {"../../etc/passwd", "/etc/passwd", "a/../../b", "..", "a/./b", "x:../y", "a\\b", "hf.co/../x", "hf.co/a/b:..",
          "a b", "a/b/c/d", ".hidden", "-rf", "m:tag/extra", "", "a//b", "name\n"}) {
        auto n = parse_model_name(bad);
        EXPECT_FALSE(n.ok()) << "accepted '" << bad << "' as " << (n.ok() ? n->manifest_path() : "");
    }
    EXPECT_FALSE(parse_model_name(std::string(600, 'a')).ok());
}

TEST(HubNames, paths_and_names_are_told_apart) {
    EXPECT_TRUE(tf::hub::looks_like_path("model.gguf"));
    EXPECT_TRUE(tf::hub::looks_like_path("./m"));
    EXPECT_TRUE(tf::hub::looks_like_path("/models/m.gguf"));
    EXPECT_TRUE(tf::hub::looks_like_path("dir/model.gguf"));
    EXPECT_FALSE(tf::hub::looks_like_path("llama3.2:1b"));
    EXPECT_FALSE(tf::hub::looks_like_path("Qwen/Repo-GGUF/file.gguf"));
}

TEST(HubQuantChoice, a_tag_matches_a_whole_token_case_insensitively) {
    const std::vector<std::string> files = {"README.md",
                                            "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
                                            "Llama-3.2-1B-Instruct-Q4_K_S.gguf",
                                            "Llama-3.2-1B-Instruct-Q8_0.gguf",
                                            "mmproj-Llama-Q8_0.gguf",
                                            "Q6_K/Llama-3.2-1B-Instruct-Q6_K-00001-of-00002.gguf",
                                            "Q6_K/Llama-3.2-1B-Instruct-Q6_K-00002-of-00002.gguf"};
    auto q = tf::hub::choose_gguf_files(files, "q8_0");
    ASSERT_TRUE(q.ok()) << q.error().message;
    EXPECT_EQ(*q, std::vector<std::string>{"Llama-3.2-1B-Instruct-Q8_0.gguf"});  // not the projector
    auto d = tf::hub::choose_gguf_files(files, "latest");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, std::vector<std::string>{"Llama-3.2-1B-Instruct-Q4_K_M.gguf"});
    EXPECT_FALSE(tf::hub::choose_gguf_files(files, "Q4_K").ok());  // a prefix of Q4_K_M and Q4_K_S is not a match
    auto s = tf::hub::choose_gguf_files(files, "Q6_K");
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_EQ(s->size(), 2u);
    EXPECT_EQ((*s)[1], "Q6_K/Llama-3.2-1B-Instruct-Q6_K-00002-of-00002.gguf");
    auto missing = tf::hub::choose_gguf_files(files, "IQ2_XS");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("Q4_K_M"), std::string::npos) << missing.error().message;
    auto gap = tf::hub::choose_gguf_files({"m-Q2_K-00001-of-00002.gguf"}, "Q2_K");
    EXPECT_FALSE(gap.ok());
}

}  // namespace
