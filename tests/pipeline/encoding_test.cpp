// Text as companies have it: legacy code pages, UTF-16, declared charsets, misnamed files — read
// to the right characters (never a silent U+FFFD), and what `terraferma text` shows of them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/document.h"
#include "pipeline/text_encoding.h"
#include "support/run.h"
#include "tokenizer/unicode.h"

namespace {

using tf::pipeline::decode_text;

TEST(TextEncoding, legacy_code_pages_utf16_and_declared_charsets) {
    // Windows-1252, undeclared: detected; the euro sign and umlauts survive.
    auto d = decode_text(
        "Betrag: 1.234,56 \x80, Stra\xDF"
        "e M\xFCller, K\xF6ln, Gr\xFC\xDF"
        "e aus M\xFCnchen");
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->text, "Betrag: 1.234,56 €, Straße Müller, Köln, Grüße aus München");
    EXPECT_EQ(d->how, "detected");
    // Declared: the declaration decides (CP1250: 0x9A is š, 0xE8 is č).
    d = decode_text("\x9A\xE8\xF8", "windows-1250");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->text, "ščř");
    EXPECT_EQ(d->how, "declared");
    // ISO-8859-1 as declared by a page means Windows-1252 (WHATWG): 0x80 is the euro sign.
    d = decode_text("5 \x80", "ISO-8859-1");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->text, "5 €");
    // Byte-order marks: UTF-16 both ways, UTF-8's removed.
    d =
        decode_text(std::string("\xFF\xFE"
                                "A\0\xAC\x20",
                                6));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->text, "A€");
    d = decode_text(std::string("\xFE\xFF\0A\x20\xAC", 6));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->text, "A€");
    d = decode_text("\xEF\xBB\xBFok");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->text, "ok");
    // Valid UTF-8 stays as it is, even when a page declares otherwise wrongly... as declared.
    d = decode_text("M\xC3\xBCller");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->text, "Müller");
    EXPECT_EQ(d->how, "valid");
    // A page declaring UTF-8 that is not: detection, not replacement characters.
    d = decode_text(
        "K\xF6ln und M\xFCnchen, Stra\xDF"
        "e",
        "utf-8");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->text.find("\xEF\xBF\xBD"), std::string::npos) << d->text;
    // A BOM that lies is an error naming the encoding and the place.
    d =
        decode_text(std::string("\xFF\xFE"
                                "A",
                                3));
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("UTF-16LE"), std::string::npos) << d.error().message;
}

TEST(TextEncoding, html_meta_charset) {
    using tf::pipeline::html_declared_charset;
    EXPECT_EQ(html_declared_charset("<html><head><meta charset=\"Windows-1250\"></head>"), "windows-1250");
    EXPECT_EQ(html_declared_charset("<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-2\">"),
              "iso-8859-2");
    EXPECT_EQ(html_declared_charset("<meta name=description content=x><p>charset=koi8-r</p>"), "");
    EXPECT_EQ(html_declared_charset(std::string(2000, ' ') + "<meta charset=utf-8>"), "");  // only the first 1024 bytes
}

class TextCommand : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("tf-text-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& bytes) {
        const auto p = dir_ / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p.string();
    }
    std::filesystem::path dir_;
};

TEST_F(TextCommand, shows_what_the_model_is_given_with_warnings) {
    const std::string html = write("rechnung.html",
                                   "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
                                   "charset=windows-1252\"><title>t</title></head>"
                                   "<body><h1>Rechnung</h1><p>Summe: 1.234,56 \x80</p></body></html>");
    const std::string txt = write("brief.txt",
                                  "Sehr geehrte Frau M\xFCller,\nanbei die Rechnung \xFC"
                                  "ber 99,00 \x80 f\xFCr Oktober.\n");
    const std::string misnamed = write("notes.pdf", "Plain notes, not a PDF.\n");
    auto r = tf::test::run_terraferma({"text", "--json", html, txt, misnamed});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<nlohmann::json> lines;
    std::istringstream ss(r.out);
    for (std::string line; std::getline(ss, line);) lines.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(lines.size(), 3u) << r.out;
    EXPECT_EQ(lines[0]["format"], "html");
    EXPECT_NE(lines[0]["pages"][0].get<std::string>().find("Summe: 1.234,56 €"), std::string::npos) << lines[0].dump();
    EXPECT_TRUE(lines[0]["warnings"].empty());
    EXPECT_NE(lines[1]["pages"][0].get<std::string>().find("Frau Müller"), std::string::npos) << lines[1].dump();
    EXPECT_NE(lines[1]["pages"][0].get<std::string>().find("99,00 € für"), std::string::npos) << lines[1].dump();
    ASSERT_EQ(lines[1]["warnings"].size(), 1u);
    EXPECT_NE(lines[1]["warnings"][0].get<std::string>().find("WINDOWS-1252"), std::string::npos);
    EXPECT_EQ(lines[2]["format"], "txt");
    EXPECT_EQ(lines[2]["pages"][0], "Plain notes, not a PDF.\n");
    EXPECT_NE(lines[2]["warnings"][0].get<std::string>().find("named .pdf"), std::string::npos);

    // Plain output: exactly the text; the warning on standard error; a broken file fails.
    r = tf::test::run_terraferma({"text", txt});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "Sehr geehrte Frau Müller,\nanbei die Rechnung über 99,00 € für Oktober.\n");
    EXPECT_NE(r.err.find("warning: read as WINDOWS-1252"), std::string::npos) << r.err;
    const std::string broken = write("broken.docx", std::string("PK\x03\x04garbage", 11));
    r = tf::test::run_terraferma({"text", broken});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("broken.docx"), std::string::npos) << r.err;
}

// Found by text_encoding_fuzz: a UTF-8 byte-order mark before an old-style UTF-8 sequence for a
// code point past U+10FFFF, which glibc's iconv passes through. What comes out is Unicode UTF-8,
// or an error.
TEST(TextEncoding, code_points_beyond_unicode_never_come_out) {
    for (std::string_view declared : {"", "utf-16", "utf-8"}) {
        auto d = decode_text(std::string_view("\xEF\xBB\xBFm\xF6\xA5\xB1\xB1", 8), declared);
        if (d) {
            EXPECT_TRUE(tf::tok::utf8_valid(d->text)) << declared;
        }
        auto plain = decode_text(std::string_view("m\xF6\xA5\xB1\xB1 text", 10), declared);
        if (plain) {
            EXPECT_TRUE(tf::tok::utf8_valid(plain->text)) << declared;
        }
    }
}

}  // namespace
