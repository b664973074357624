#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/reference.h"
#include "support/run.h"

namespace {

using tf::test::run_terraferma;

std::string write_temp(const std::string& name, const std::string& content) {
    auto p = std::filesystem::temp_directory_path() / ("tf-tmpl-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(p) << content;
    return p.string();
}

TEST(TemplateE2E, renders_the_models_template_and_the_default) {
    TF_REQUIRE_REFERENCE();
    const auto msgs = write_temp("m.json", R"([{"role":"user","content":"Total?"}])");
    auto qwen = run_terraferma({"template", "-m", (tf::test::reference_dir() / "models/vocab-qwen2-qwen2-Q8_0.gguf").string(),
                                "--messages", msgs, "--add-generation-prompt"});
    ASSERT_EQ(qwen.exit_code, 0) << qwen.err;
    EXPECT_NE(qwen.out.find("<|im_start|>user\nTotal?<|im_end|>\n<|im_start|>assistant\n"), std::string::npos) << qwen.out;
    auto plain = run_terraferma({"template", "-m", (tf::test::reference_dir() / "models/tiny-llama.gguf").string(),
                                 "--messages", msgs});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_EQ(plain.out, "<|im_start|>user\nTotal?<|im_end|>\n");  // the documented ChatML default
}

TEST(TemplateE2E, bad_message_files_are_clear_errors) {
    TF_REQUIRE_REFERENCE();
    const auto model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    auto r = run_terraferma({"template", "-m", model, "--messages", write_temp("bad.json", "[{\"role\": ")});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("invalid JSON"), std::string::npos) << r.err;
    auto o = run_terraferma({"template", "-m", model, "--messages", write_temp("obj.json", "{}")});
    EXPECT_EQ(o.exit_code, 1);
    EXPECT_NE(o.err.find("expected a JSON array of messages"), std::string::npos) << o.err;
}

}  // namespace
