// Ingestion and chunking on the sample documents of ../shared/peer-tests/documents.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/model.h"
#include "pipeline/chunk.h"
#include "pipeline/document.h"
#include "support/reference.h"

namespace {

using tf::pipeline::load_document;

std::filesystem::path docs() { return tf::test::shared_dir() / "peer-tests" / "documents"; }

#define TF_REQUIRE_DOCS()                                                                       \
    do {                                                                                        \
        if (!std::filesystem::exists(docs())) GTEST_SKIP() << "no sample documents at " << docs(); \
    } while (0)

TEST(Ingest, every_type_gives_text_with_structure) {
    TF_REQUIRE_DOCS();
    auto txt = load_document((docs() / "text/GPL-3.txt").string());
    ASSERT_TRUE(txt.ok()) << txt.error().message;
    EXPECT_NE(txt->text.find("GNU GENERAL PUBLIC LICENSE"), std::string::npos);
    EXPECT_EQ(txt->sha256.size(), 64u);

    auto html = load_document((docs() / "html/users-and-groups.html").string());
    ASSERT_TRUE(html.ok()) << html.error().message;
    for (const char* tag : {"<p", "<div", "<a ", "<h1", "</", "<!--", "<script"}) EXPECT_EQ(html->text.find(tag), std::string::npos) << tag;
    EXPECT_NE(html->text.find("# "), std::string::npos) << "headings become '#'";

    auto pdf = load_document((docs() / "pdf/tracemonkey.pdf").string());
    ASSERT_TRUE(pdf.ok()) << pdf.error().message;
    EXPECT_EQ(pdf->page_starts.size(), 14u);
    EXPECT_GT(pdf->text.size(), 50000u);
    EXPECT_EQ(pdf->page_of(pdf->page_starts[5] + 10), 6);

    auto docx = load_document((docs() / "docx/par-known-paragraphs.docx").string());
    ASSERT_TRUE(docx.ok()) << docx.error().message;
    EXPECT_GT(docx->text.size(), 20u);
    auto tables = load_document((docs() / "docx/blk-paras-and-tables.docx").string());
    ASSERT_TRUE(tables.ok()) << tables.error().message;
    EXPECT_NE(tables->text.find("Lorem ipsum dolor sit amet"), std::string::npos) << tables->text;
    EXPECT_EQ(tables->text.find("\n\n\n"), std::string::npos) << "empty table rows leave no blank lines";
}

TEST(Ingest, broken_files_are_clear_errors) {
    TF_REQUIRE_DOCS();
    const std::pair<const char*, const char*> cases[] = {
        {"corrupt/truncated.pdf", "not a readable PDF"},    {"corrupt/bad-xref.pdf", "not a readable PDF"},
        {"corrupt/random-bytes.docx", "not a DOCX file"},   {"corrupt/fake-zip.docx", "not a DOCX file"},
        {"pdf/empty.pdf", "no text layer"},                 {"README.md/../nothing.txt", "cannot open"},
    };
    for (auto [file, message] : cases) {
        auto d = load_document((docs() / file).string());
        ASSERT_FALSE(d.ok()) << file;
        EXPECT_NE(d.error().message.find(message), std::string::npos) << file << ": " << d.error().message;
        EXPECT_NE(d.error().message.find(std::filesystem::path(file).filename().string()), std::string::npos) << "names the file";
    }
    auto unknown = load_document((tf::test::reference_dir() / "models/tiny-llama.gguf").string());
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message.find("unsupported document type 'gguf'"), std::string::npos);
}

TEST(Ingest, html_text_is_visible_text) {
    const std::string t = tf::pipeline::html_to_text(
        "<html><head><title>T</title><style>p{}</style></head><body><script>var x = '<p>';</script>"
        "<h2>Terms &amp; conditions</h2><p>Price:&nbsp;12&euro; &#8212; due &#x32;025</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table><p>unclosed <b>bold</body>");
    EXPECT_EQ(t, "## Terms & conditions\n\nPrice: 12€ — due 2025\n\n- one\n- two\n\na\tb\n\nunclosed bold");
    EXPECT_EQ(tf::pipeline::html_to_text("<<<>>>&bogus;<"), ">>&bogus;<");
    EXPECT_EQ(tf::pipeline::valid_utf8("ok\xff\xc3"), "ok\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Chunking, pieces_fit_cover_and_overlap) {
    TF_REQUIRE_DOCS();
    TF_REQUIRE_REFERENCE();
    auto m = tf::model::Model::load((tf::test::reference_dir() / "models/vocab-llama3-llama-Q8_0.gguf").string());
    ASSERT_TRUE(m.ok());
    auto tok = tf::tok::Tokenizer::from_file(*(*m)->file);
    ASSERT_TRUE(tok.ok());
    auto doc = load_document((docs() / "text/GPL-3.txt").string());
    ASSERT_TRUE(doc.ok());
    const auto chunks = tf::pipeline::chunk_document(*doc, *tok, 1000, 100);
    ASSERT_GT(chunks.size(), 5u);
    EXPECT_EQ(chunks.front().begin, 0u);
    EXPECT_EQ(chunks.back().end, doc->text.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
        EXPECT_LE(chunks[i].tokens, 1000);
        const int real = static_cast<int>(tok->encode(doc->text.substr(chunks[i].begin, chunks[i].end - chunks[i].begin), false).size());
        EXPECT_LE(real, 1010) << "chunk " << i;  // pieces tokenized apart may merge differently at their seams
        if (i > 0) {
            EXPECT_LE(chunks[i].begin, chunks[i - 1].end) << "no gap";
            EXPECT_GT(chunks[i].begin, chunks[i - 1].begin) << "progress";
        }
    }
}

}  // namespace
