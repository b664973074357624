// `terraferma inspect --json` on every reference file, through the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/reference.h"
#include "support/run.h"
#include "util/mapped_file.h"
#include "util/sha256.h"

namespace {

using nlohmann::json;
using tf::test::run_terraferma;

json inspect(const std::filesystem::path& p) {
    auto r = run_terraferma({"inspect", "--json", p.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    return json::parse(r.out);
}

TEST(InspectE2E, every_reference_file_is_described_correctly) {
    TF_REQUIRE_REFERENCE();
    for (const auto& p : tf::test::reference_ggufs()) {
        SCOPED_TRACE(p.string());
        json j = inspect(p);
        auto mapped = tf::MappedFile::open(p.string());
        ASSERT_TRUE(mapped.ok());
        EXPECT_EQ(j["file_size"].get<uint64_t>(), std::filesystem::file_size(p));
        EXPECT_EQ(j["sha256"].get<std::string>(), tf::sha256_hex((*mapped)->bytes()));
        EXPECT_EQ(j["gguf_version"], 3);
        EXPECT_FALSE(j["architecture"].get<std::string>().empty());
        EXPECT_GT(j["tokenizer"]["n_tokens"].get<uint64_t>(), 0u);
        uint64_t bytes = 0;
        for (const auto& [type, t] : j["tensors"]["by_type"].items()) bytes += t["bytes"].get<uint64_t>();
        EXPECT_EQ(bytes, j["tensors"]["bytes"].get<uint64_t>());
        if (p.parent_path().filename() == "models") {
            EXPECT_FALSE(j.contains("missing_keys")) << j["missing_keys"];
            EXPECT_EQ(j["hparams"]["context_length"], 512);
        } else {
            EXPECT_EQ(j["tensors"]["count"], 0);
        }
    }
}

TEST(InspectE2E, tiny_mixtral_reports_experts_and_tensor_types) {
    TF_REQUIRE_REFERENCE();
    json j = inspect(tf::test::reference_dir() / "models/tiny-mixtral-Q8_0.gguf");
    EXPECT_EQ(j["architecture"], "llama");
    EXPECT_EQ(j["hparams"]["expert_count"], 4);
    EXPECT_EQ(j["hparams"]["expert_used_count"], 2);
    EXPECT_EQ(j["hparams"]["head_count_kv"], 2);
    EXPECT_EQ(j["hparams"]["layer_norm_rms_epsilon"], 1e-5);
    EXPECT_TRUE(j["tensors"]["by_type"].contains("Q8_0"));
    EXPECT_EQ(j["tokenizer"]["model"], "llama");
    EXPECT_EQ(j["tokenizer"]["add_bos_token"], true);
}

TEST(InspectE2E, phi3_has_a_chat_template_and_gemma2_softcaps) {
    TF_REQUIRE_REFERENCE();
    json phi = inspect(tf::test::reference_dir() / "models/tiny-phi3-Q8_0.gguf");
    EXPECT_EQ(phi["tokenizer"]["chat_template"], true);
    EXPECT_EQ(phi["hparams"]["vocab_size"], 32064);
    json g2 = inspect(tf::test::reference_dir() / "models/tiny-gemma2.gguf");
    EXPECT_EQ(g2["hparams"]["attn_logit_softcapping"], 50.0);
    EXPECT_EQ(g2["hparams"]["final_logit_softcapping"], 30.0);
    EXPECT_EQ(g2["hparams"]["sliding_window"], 16);
}

TEST(InspectE2E, tensor_listing_and_text_output) {
    TF_REQUIRE_REFERENCE();
    auto p = tf::test::reference_dir() / "models/ladder-llama-Q4_K_M.gguf";
    auto r = run_terraferma({"inspect", "--json", "--tensors", "--metadata", p.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out);
    bool found = false;
    for (const auto& t : j["tensors"]["list"]) {
        if (t["name"] == "output.weight") {
            EXPECT_EQ(t["type"], "Q6_K");
            found = true;
        }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(j["metadata"]["general.architecture"], "llama");
    EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["length"], 512);
    auto text = run_terraferma({"inspect", p.string()});
    ASSERT_EQ(text.exit_code, 0);
    EXPECT_NE(text.out.find("architecture"), std::string::npos);
    EXPECT_NE(text.out.find("Q6_K"), std::string::npos);
    EXPECT_NE(text.out.find("sha256"), std::string::npos);
}

}  // namespace
