// DOCX beyond plain paragraphs: what Word puts elsewhere (notes, headers, text boxes, content
// controls, tracked changes) is read once, in a sensible place.
#include <gtest/gtest.h>

#include <fstream>

#include "pipeline/document.h"
#include "pipeline/word_text.h"
#include "support/reference.h"
#include "support/zip.h"

namespace {

const char* kNs =
    R"(xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" )"
    R"(xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" )"
    R"(xmlns:v="urn:schemas-microsoft-com:vml" xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape")";

std::string part(const std::string& root, const std::string& inner) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><" + root + " " + kNs + ">" + inner + "</" +
           root + ">";
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(Docx, notes_headers_text_boxes_content_controls_and_tracked_changes) {
    const std::string body = part(
        "w:document",
        "<w:body>"
        "<w:p><w:r><w:t>The supplier delivers monthly.</w:t></w:r><w:r><w:footnoteReference w:id=\"1\"/></w:r></w:p>"
        // A text box, as Word writes it: the DrawingML choice and a VML fallback with the same text.
        "<w:p><w:r><w:t>Drawing:</w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:drawing><wps:txbx>"
        "<w:txbxContent><w:p><w:r><w:t>Datum plane</w:t></w:r></w:p></w:txbxContent></wps:txbx></w:drawing></mc:Choice>"
        "<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>Datum plane</w:t></w:r></w:p>"
        "</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
        // A content control around a paragraph (a form field of a contract template).
        "<w:sdt><w:sdtPr><w:alias w:val=\"Number\"/></w:sdtPr><w:sdtContent><w:p><w:r><w:t>Contract no. "
        "77</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>"
        // Tracked changes: accepted means insertions in, deletions and moved-from text out.
        "<w:p><w:r><w:t xml:space=\"preserve\">Price </w:t></w:r><w:del><w:r><w:delText>100 "
        "EUR</w:delText></w:r></w:del>"
        "<w:ins><w:r><w:t>120 EUR</w:t></w:r></w:ins></w:p>"
        "<w:moveFrom><w:p><w:r><w:t>Old clause</w:t></w:r></w:p></w:moveFrom>"
        "<w:p><w:moveFrom><w:r><w:t>old place </w:t></w:r></w:moveFrom><w:moveTo><w:r><w:t>New "
        "place</w:t></w:r></w:moveTo></w:p>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Item</w:t></w:r></w:p><w:p><w:r><w:t>(net)</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>9.50</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        "</w:body>");
    const std::string header = part("w:hdr", "<w:p><w:r><w:t>ACME Corp confidential</w:t></w:r></w:p>");
    const std::string footer = part("w:ftr", "<w:p><w:r><w:t>Page footer</w:t></w:r></w:p>");
    const std::string footnotes =
        part("w:footnotes",
             "<w:footnote w:type=\"separator\" w:id=\"-1\"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>"
             "<w:footnote w:id=\"1\"><w:p><w:r><w:t>See clause 4.</w:t></w:r></w:p></w:footnote>");
    const std::string docx = tf::test::make_zip({{"word/document.xml", body},
                                                 {"word/header1.xml", header},
                                                 {"word/header2.xml", header},  // first page and default: the same
                                                 {"word/footer1.xml", footer},
                                                 {"word/footnotes.xml", footnotes}});
    auto text = tf::pipeline::docx_to_text(docx);
    ASSERT_TRUE(text.ok()) << text.error().message;
    const std::string& t = *text;
    EXPECT_EQ(count(t, "Datum plane"), 1u) << t;
    EXPECT_EQ(t.find("Drawing:Datum"), std::string::npos) << "a text box is its own paragraph: " << t;
    EXPECT_NE(t.find("Contract no. 77"), std::string::npos) << t;
    EXPECT_NE(t.find("Price 120 EUR"), std::string::npos) << t;
    EXPECT_EQ(t.find("100 EUR"), std::string::npos) << t;
    EXPECT_EQ(t.find("Old clause"), std::string::npos) << t;
    EXPECT_EQ(t.find("old place"), std::string::npos) << t;
    EXPECT_NE(t.find("New place"), std::string::npos) << t;
    EXPECT_NE(t.find("Item (net)\t9.50"), std::string::npos) << t;
    EXPECT_EQ(count(t, "ACME Corp confidential"), 1u) << t;
    EXPECT_EQ(t.rfind("## Header\n\nACME Corp confidential", 0), 0u) << t;
    EXPECT_NE(t.find("delivers monthly.[^1]"), std::string::npos) << t;
    const size_t notes = t.find("## Footnotes\n\n[^1]: See clause 4.");
    ASSERT_NE(notes, std::string::npos) << t;
    EXPECT_GT(notes, t.find("New place"));
    EXPECT_NE(t.find("## Footer\n\nPage footer"), std::string::npos) << t;
}

TEST(Docx, a_real_header_and_footer_document) {
    TF_REQUIRE_REFERENCE();
    auto d = tf::pipeline::load_document(
        (tf::test::shared_dir() / "peer-tests/documents/docx/hdr-header-footer.docx").string());
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->text.rfind("## Header\n\n", 0), 0u) << d->text.substr(0, 300);
    EXPECT_NE(d->text.find("## Footer\n\n"), std::string::npos) << d->text;
}

}  // namespace

namespace {

TEST(Docx, reviewers_comments_only_when_asked) {
    TF_REQUIRE_REFERENCE();
    std::ifstream f(tf::test::shared_dir() / "peer-tests/documents/docx/comments-rich-para.docx", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto plain = tf::pipeline::docx_to_text(bytes);
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain->find("Comments"), std::string::npos) << *plain;
    EXPECT_EQ(plain->find("[^c0]"), std::string::npos) << *plain;
    auto with = tf::pipeline::docx_to_text(bytes, true);
    ASSERT_TRUE(with) << with.error().message;
    const size_t section = with->find("## Comments\n\n[^c0]: (Steve Canny) Text with hyperlink");
    ASSERT_NE(section, std::string::npos) << *with;
    EXPECT_LT(with->find("[^c0]"), section) << "the comment's anchor is marked in the body";
    // Reading comments is another reading of the same bytes: another result identity.
    ::setenv("TERRAFERMA_DOCX_COMMENTS", "1", 1);
    const std::string id_with = tf::pipeline::reader_id("docx");
    ::unsetenv("TERRAFERMA_DOCX_COMMENTS");
    EXPECT_NE(id_with, tf::pipeline::reader_id("docx"));
}

TEST(Docx, hostile_nesting_is_read_without_running_the_stack_out) {
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += "<w:sdt><w:sdtContent>";
    deep += "<w:p><w:r><w:t>deep</w:t></w:r></w:p>";
    for (int i = 0; i < 100000; ++i) deep += "</w:sdtContent></w:sdt>";
    std::string runs;
    for (int i = 0; i < 100000; ++i) runs += "<w:hyperlink>";
    runs += "<w:r><w:t>x</w:t></w:r>";
    for (int i = 0; i < 100000; ++i) runs += "</w:hyperlink>";
    const std::string body =
        part("w:document", "<w:body><w:p><w:r><w:t>top</w:t></w:r></w:p>" + deep + "<w:p>" + runs + "</w:p></w:body>");
    auto text = tf::pipeline::docx_to_text(tf::test::make_zip({{"word/document.xml", body}}));
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(text->rfind("top", 0), 0u);
}

}  // namespace
