// `terraferma embed` and `terraferma rerank` through the real binary on the reference encoders:
// the vectors point where llama.cpp's do, documents are ranked as llama.cpp's scores rank them,
// and the wrong kind of model or an unreadable file is a clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/reference.h"
#include "support/run.h"

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

fs::path write_temp(const std::string& name, const std::string& text) {
    const fs::path p = fs::temp_directory_path() / ("tf-embed-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

TEST(EmbedCli, documents_embed_like_llama_cpp) {
    TF_REQUIRE_REFERENCE();
    const auto ref = nlohmann::json::parse(slurp(tf::test::reference_dir() / "outputs/tiny-bert.json"));
    std::vector<std::string> args = {"embed", "-t", "2", "-m",
                                     (tf::test::reference_dir() / "models/tiny-bert.gguf").string()};
    std::vector<fs::path> files;
    for (size_t i = 0; i < ref["prompts"].size(); ++i) {
        files.push_back(write_temp("p" + std::to_string(i) + ".txt", ref["prompts"][i]["text"].get<std::string>()));
        args.push_back(files.back().string());
    }
    auto r = tf::test::run_terraferma(args);
    for (const auto& f : files) fs::remove(f);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    size_t i = 0;
    for (; std::getline(lines, line); ++i) {
        const auto j = nlohmann::json::parse(line);
        const auto& p = ref["prompts"][i];
        EXPECT_EQ(j["tokens"].get<size_t>(), p["tokens"].size());
        EXPECT_EQ(j["pooling"], "cls");
        const auto v = j["embedding"].get<std::vector<float>>();
        const std::string bin = slurp(tf::test::reference_dir() / "outputs" / p["embedding_file"].get<std::string>());
        ASSERT_EQ(bin.size(), v.size() * 4);
        double dot = 0, norm_ref = 0, norm = 0;
        for (size_t k = 0; k < v.size(); ++k) {
            float x;
            std::memcpy(&x, bin.data() + 4 * k, 4);
            dot += double(v[k]) * x, norm_ref += double(x) * x, norm += double(v[k]) * v[k];
        }
        EXPECT_NEAR(norm, 1.0, 1e-5);
        EXPECT_GT(dot / std::sqrt(norm_ref), 0.99999) << "prompt " << i;
    }
    EXPECT_EQ(i, ref["prompts"].size());
}

TEST(EmbedCli, rerank_orders_documents_as_llama_cpp_scores_them) {
    TF_REQUIRE_REFERENCE();
    const auto pairs =
        nlohmann::json::parse(slurp(tf::test::reference_dir() / "outputs/tiny-bert-rerank.json"))["pairs"];
    const std::string query = pairs[0]["query"];
    std::vector<std::string> args = {
        "rerank", "-m", (tf::test::reference_dir() / "models/tiny-bert-rerank.gguf").string(), "-q", query};
    std::vector<std::pair<float, std::string>> expected;
    std::vector<fs::path> files;
    for (const auto& p : pairs) {
        if (p["query"] != query) continue;
        files.push_back(write_temp("d" + std::to_string(files.size()) + ".txt", p["document"].get<std::string>()));
        args.push_back(files.back().string());
        expected.emplace_back(p["scores"][0].get<float>(), files.back().string());
    }
    ASSERT_GE(files.size(), 2u);
    std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    for (size_t rank = 0; std::getline(lines, line); ++rank) {
        const auto j = nlohmann::json::parse(line);
        ASSERT_LT(rank, expected.size());
        EXPECT_EQ(j["rank"].get<size_t>(), rank + 1);
        EXPECT_EQ(j["path"], expected[rank].second);
        EXPECT_NEAR(j["score"].get<float>(), expected[rank].first,
                    4e-3 * std::max(1.0f, std::fabs(expected[rank].first)));
    }
    // An embedding model is not a reranker; a missing document is named.
    args[2] = (tf::test::reference_dir() / "models/tiny-bert.gguf").string();
    auto wrong = tf::test::run_terraferma(args);
    EXPECT_EQ(wrong.exit_code, 1);
    EXPECT_NE(wrong.err.find("not a reranker"), std::string::npos) << wrong.err;
    for (const auto& f : files) fs::remove(f);
    auto missing = tf::test::run_terraferma(
        {"embed", "-m", (tf::test::reference_dir() / "models/tiny-bert.gguf").string(), "/nonexistent/x.txt"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("/nonexistent/x.txt"), std::string::npos) << missing.err;
}

}  // namespace
