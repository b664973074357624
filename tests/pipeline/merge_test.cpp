// Merging a long document's chunk answers: arrays joined and cut at maxItems (the cut counted),
// agreeing values kept, disagreeing ones left to the chooser — a value found only on the last
// page is a candidate, never lost to the first page's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "pipeline/merge.h"

namespace {

using ojson = nlohmann::ordered_json;
using tf::pipeline::Candidate;
using tf::pipeline::ChunkAnswer;

const ojson kSchema = ojson::parse(R"({"type":"object","properties":{
    "number":{"type":"string"},"total":{"type":["number","null"]},"items":{"type":"array","items":{"type":"string"},"maxItems":3},
    "note":{"type":"string"}},"required":["number","items"]})");

TEST(MergeChunkAnswers, arrays_join_and_cut_scalars_agree_or_are_chosen) {
    const std::vector<ChunkAnswer> answers = {
        {ojson::parse(R"({"number":"A-1","total":null,"items":["a","b"],"note":""})"), 1},
        {ojson::parse(R"({"number":"A-1","total":12.5,"items":["b","c"]})"), 3},
        {ojson::parse(R"({"number":"A-1","total":99,"items":["d","e"],"extra":true})"), 5},
    };
    std::vector<std::string> asked;
    auto m = tf::pipeline::merge_chunk_answers(answers, kSchema, [&](const std::string& field, const std::vector<Candidate>& c) -> tf::Result<size_t> {
        asked.push_back(field);
        EXPECT_EQ(c.size(), 2u);
        EXPECT_EQ(c[0].value, 12.5);
        EXPECT_EQ(c[0].page, 3);
        EXPECT_EQ(c[1].value, 99);
        EXPECT_EQ(c[1].page, 5);
        return size_t{1};  // the last page's total
    });
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(asked, std::vector<std::string>{"total"});
    EXPECT_EQ(m->value, ojson::parse(R"({"number":"A-1","total":99,"items":["a","b","c"],"note":"","extra":true})"));
    EXPECT_EQ(m->provenance["total"], ojson::parse(R"({"page":5,"candidates":2})"));
    EXPECT_EQ(m->provenance["number"], ojson::parse(R"({"page":1})"));
    EXPECT_EQ(m->provenance["items"], ojson::parse(R"({"pages":[1,3]})"));
    EXPECT_EQ(m->dropped, ojson::parse(R"({"items":2})"));
    EXPECT_FALSE(m->provenance.contains("note"));  // nothing found: no page to point to
}

TEST(MergeChunkAnswers, a_chooser_error_is_the_merge_error) {
    const std::vector<ChunkAnswer> answers = {{ojson::parse(R"({"number":"1","items":[]})"), 1}, {ojson::parse(R"({"number":"2","items":[]})"), 2}};
    auto m = tf::pipeline::merge_chunk_answers(answers, kSchema, [](const std::string&, const std::vector<Candidate>&) -> tf::Result<size_t> {
        return tf::Error{"no"};
    });
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().message, "no");
}

}  // namespace

namespace {

// Label evidence only in the last chunk: nine chunks that cannot tell the labels apart and one
// that can — the document takes the last chunk's label; the order of the chunks does not matter.
TEST(CombineLabelScores, evidence_in_the_last_chunk_decides) {
    std::vector<std::vector<double>> chunks(9, std::vector<double>{-3.0, -3.0, -3.0});  // "license, manual, paper": no idea
    chunks.push_back({-9.0, -8.0, -0.01});                                              // the last page: clearly a paper
    const auto p = tf::pipeline::combine_label_scores(chunks);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_GT(p[2], p[0]);
    EXPECT_GT(p[2], p[1]);
    EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-12);
    std::reverse(chunks.begin(), chunks.end());
    const auto reversed = tf::pipeline::combine_label_scores(chunks);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(reversed[i], p[i], 1e-12);
    // One chunk alone: its own renormalized probabilities.
    const auto one = tf::pipeline::combine_label_scores({{std::log(0.2), std::log(0.3), std::log(0.5)}});
    EXPECT_NEAR(one[2], 0.5, 1e-12);
}

}  // namespace
