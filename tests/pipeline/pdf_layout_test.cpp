// Reading order of PDF pages: two columns of prose are read column by column, while an
// invoice's table rows stay whole lines.
#include "pipeline/pdf_layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "pipeline/document.h"
#include "support/pdf_samples.h"
#include "support/run.h"

namespace {

using tf::pipeline::PdfWord;
using tf::test::PdfRun;
using tf::test::two_column_pdf;

std::vector<std::string> split(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// The share of the source's words that come in the source's order in `text`: the longest
// increasing run of their positions over the word count (two columns read line by line across
// the page come out near 0.5; a missing word counts against it).
double in_order_ratio(const std::vector<std::string>& source, const std::string& text) {
    std::map<std::string, size_t> pos;
    const auto got = split(text);
    for (size_t i = 0; i < got.size(); ++i) pos.emplace(got[i], i);
    std::vector<size_t> tails;  // patience sorting: tails[k] is the least end of an increasing run of k+1
    for (const std::string& w : source) {
        auto it = pos.find(w);
        if (it == pos.end()) continue;
        auto t = std::lower_bound(tails.begin(), tails.end(), it->second);
        if (t == tails.end())
            tails.push_back(it->second);
        else
            *t = it->second;
    }
    return static_cast<double>(tails.size()) / static_cast<double>(source.size());
}

TEST(PdfLayout, two_columns_of_prose_are_read_column_by_column) {
    std::vector<std::string> source;
    const std::string pdf = two_column_pdf(source);
    auto pages = tf::pipeline::pdf_pages(pdf);
    ASSERT_TRUE(pages) << pages.error().message;
    ASSERT_EQ(pages->size(), 1u);
    const double ratio = in_order_ratio(source, (*pages)[0]);
    std::printf("two-column page: in-order ratio %.3f over %zu words\n", ratio, source.size());
    EXPECT_GE(ratio, 0.95) << (*pages)[0].substr(0, 800);
    EXPECT_EQ(split((*pages)[0]).size(), source.size());
}

TEST(PdfLayout, an_invoice_table_keeps_its_rows_whole) {
    std::vector<PdfRun> runs = {{56, 740, 14, "Invoice INV-2291 from Example Trading GmbH"},
                                {56, 720, 10, "Bill to Acme Logistics, Harbour Road 12, Hamburg"},
                                {56, 690, 10, "Description"},
                                {330, 690, 10, "Qty"},
                                {400, 690, 10, "Unit price"},
                                {490, 690, 10, "Amount"}};
    for (int r = 0; r < 30; ++r) {
        const double y = 670 - 16.0 * r;
        runs.push_back({56, y, 10, "Widget model " + std::to_string(100 + r) + " in blue"});
        runs.push_back({330, y, 10, std::to_string(r + 1)});
        runs.push_back({400, y, 10, "10.00"});
        runs.push_back({490, y, 10, std::to_string(10 * (r + 1)) + ".00"});
    }
    auto pages = tf::pipeline::pdf_pages(tf::test::text_pdf({runs}));
    ASSERT_TRUE(pages) << pages.error().message;
    const std::string& t = (*pages)[0];
    for (int r : {0, 7, 29}) {
        const std::string row = "Widget model " + std::to_string(100 + r) + " in blue";
        const size_t at = t.find(row);
        ASSERT_NE(at, std::string::npos) << t;
        const std::string rest = t.substr(at, t.find('\n', at) - at);
        EXPECT_NE(rest.find(std::to_string(10 * (r + 1)) + ".00"), std::string::npos) << "row split: " << rest;
    }
}

TEST(PdfLayout, geometry_decides_not_guesses) {
    // One column of prose: no gutter.
    std::vector<PdfWord> words;
    for (int l = 0; l < 30; ++l)
        for (int i = 0; i < 10; ++i) {
            const double x = 60 + i * 48 + (l % 3) * 7;
            words.push_back({"w", x, 100.0 + 12 * l, x + 40, 110.0 + 12 * l, true});
        }
    EXPECT_FALSE(tf::pipeline::column_text(words, 612));
    // Too few words to judge, a hostile page width: nothing.
    EXPECT_FALSE(tf::pipeline::column_text({words.begin(), words.begin() + 10}, 612));
    EXPECT_FALSE(tf::pipeline::column_text(words, 1e12));
    EXPECT_FALSE(tf::pipeline::column_text(words, -5));
    std::vector<PdfWord> broken = words;
    for (size_t i = 0; i < broken.size(); i += 3) broken[i].x1 = std::nan("");
    EXPECT_FALSE(tf::pipeline::column_text(broken, 612));
    // Two columns: left words first.
    std::vector<PdfWord> cols;
    for (int side = 0; side < 2; ++side)
        for (int l = 0; l < 20; ++l)
            for (int i = 0; i < 5; ++i) {
                const double x = (side ? 320 : 60) + i * 44;
                cols.push_back({std::string(side ? "R" : "L") + std::to_string(l), x, 100.0 + 12 * l, x + 40,
                                110.0 + 12 * l, true});
            }
    auto t = tf::pipeline::column_text(cols, 612);
    ASSERT_TRUE(t);
    EXPECT_LT(t->rfind("L19"), t->find("R0"));
}

TEST(PdfLayout, the_text_command_prints_the_reading_order) {
    std::vector<std::string> source;
    const auto dir = std::filesystem::temp_directory_path() / ("tf-layout-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "paper.pdf";
    std::ofstream(path, std::ios::binary) << two_column_pdf(source);
    auto r = tf::test::run_terraferma({"text", path.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_GE(in_order_ratio(source, r.out), 0.95) << r.out.substr(0, 600);
    std::filesystem::remove_all(dir);
}

}  // namespace
