// E-mail as invoices and tickets arrive: a MIME message with a quoted-printable Latin-1 body, an
// HTML alternative, a PDF and a CSV attachment, a forwarded message — read as one text with the
// headers, the body and each attachment's own text; detected by content whatever its name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "pipeline/document.h"
#include "pipeline/email_text.h"
#include "support/pdf.h"

namespace {

std::string base64(const std::string& in) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
        if (out.size() % 77 == 76) out += "\n";
    }
    if (i + 1 == in.size()) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
    }
    return out;
}

// A one-page PDF whose text layer says `text`.
std::string tiny_pdf(const std::string& text) {
    return tf::test::text_pdf({{{20, 100, 18, text}}});
}

std::string message() {
    const std::string forwarded =
        "From: Lieferant <rechnung@lieferant.example>\r\nTo: einkauf@firma.example\r\nSubject: Mahnung\r\nDate: Mon, 2 "
        "Dec 2024 09:00:00 +0100\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nBitte zahlen Sie bis Freitag.\r\n";
    return "Return-Path: <buchhaltung@kunde.example>\r\n"
           "From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <buchhaltung@kunde.example>\r\n"
           "To: Einkauf <einkauf@firma.example>\r\n"
           "Subject: =?UTF-8?B?UmVjaG51bmcgw5xiZXJzaWNodA==?=\r\n"
           "Date: Tue, 3 Dec 2024 10:15:00 +0100\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"OUTER\"\r\n\r\n"
           "--OUTER\r\nContent-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n"
           "--ALT\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: "
           "quoted-printable\r\n\r\n"
           "Guten Tag,=0D=0Aanbei die Rechnung =FCber 4.711,00 =80 -- bitte pr=FCfen.\r\n"
           "--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML alternative</p>\r\n--ALT--\r\n"
           "--OUTER\r\nContent-Type: application/pdf; name=\"rechnung.pdf\"\r\nContent-Disposition: attachment; "
           "filename=\"rechnung.pdf\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" +
           base64(tiny_pdf("Invoice total 4711.00 EUR")) +
           "\r\n--OUTER\r\nContent-Type: text/csv; name=\"positionen.csv\"\r\nContent-Disposition: attachment; "
           "filename=\"positionen.csv\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" +
           base64("Pos;Betrag\n1;4.000,00\n2;711,00\n") +
           "\r\n--OUTER\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" + forwarded +
           "\r\n--OUTER--\r\n";
}

TEST(Email, headers_body_and_attachments_read_as_files) {
    auto d = tf::pipeline::read_document("inbox/12345", message());  // no extension: the content says mail
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->kind, "eml");
    const std::string& t = d->text;
    EXPECT_NE(t.find("From: Jürgen Müller <buchhaltung@kunde.example>"), std::string::npos) << t;
    EXPECT_NE(t.find("Subject: Rechnung Übersicht"), std::string::npos) << t;
    EXPECT_NE(t.find("Date: 2024-12-03T10:15:00"), std::string::npos) << t;
    EXPECT_NE(t.find("anbei die Rechnung über 4.711,00 € -- bitte prüfen."), std::string::npos) << t;
    EXPECT_EQ(t.find("HTML alternative"), std::string::npos) << "the plain text is preferred";
    // Each attachment is a document of its own, named in the message's text by its number only
    // (the text must not depend on where the file lies).
    for (const char* a : {"rechnung.pdf\n\n(attachment 1, a document of its own)", "positionen.csv\n\n(attachment 2,",
                          "Mahnung.eml\n\n(attachment 3,"})
        EXPECT_NE(t.find(std::string("## Attachment: ") + a), std::string::npos) << t;
    EXPECT_EQ(t.find("Invoice total"), std::string::npos) << "attachments are not read into the message: " << t;
}

TEST(Email, attachments_are_documents_of_their_own_with_addresses) {
    const auto dir = std::filesystem::temp_directory_path() / ("tf-mail-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "inbox");
    const std::string mail = (dir / "inbox" / "12345").string();
    std::ofstream(mail, std::ios::binary) << message();
    const auto docs = tf::pipeline::expand_documents({mail, "-"});
    ASSERT_EQ(docs.size(), 5u);
    EXPECT_EQ(docs[0], mail);
    EXPECT_EQ(docs[1], mail + "#attachment/1/rechnung.pdf");
    EXPECT_EQ(docs[3], mail + "#attachment/3/Mahnung.eml");
    EXPECT_EQ(docs[4], "-");
    auto pdf = tf::pipeline::load_document(docs[1]);
    ASSERT_TRUE(pdf) << pdf.error().message;
    EXPECT_EQ(pdf->kind, "pdf");
    EXPECT_NE(pdf->text.find("Invoice total 4711.00 EUR"), std::string::npos) << pdf->text;
    auto csv = tf::pipeline::load_document(docs[2]);
    ASSERT_TRUE(csv) << csv.error().message;
    EXPECT_NE(csv->text.find("2\t711,00"), std::string::npos) << csv->text;
    // A forwarded message inside is read whole (only the outer message is expanded).
    auto fwd = tf::pipeline::load_document(docs[3]);
    ASSERT_TRUE(fwd) << fwd.error().message;
    EXPECT_NE(fwd->text.find("Bitte zahlen Sie bis Freitag."), std::string::npos) << fwd->text;
    EXPECT_NE(tf::pipeline::reader_id("eml", docs[3]), tf::pipeline::reader_id("eml", mail));
    // Addresses that do not resolve are errors naming why.
    auto missing = tf::pipeline::load_document(mail + "#attachment/9/x.pdf");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("has 3 attachments, not 9"), std::string::npos) << missing.error().message;
    EXPECT_FALSE(tf::pipeline::load_document(mail + ".gone#attachment/1/rechnung.pdf"));
    std::string parent;
    size_t n = 0;
    EXPECT_FALSE(tf::pipeline::split_attachment_address("a#attachment/x/b", parent, n));
    EXPECT_FALSE(tf::pipeline::split_attachment_address("a#attachment/0/b", parent, n));
    EXPECT_FALSE(tf::pipeline::split_attachment_address("plain/path.pdf", parent, n));
    std::filesystem::remove_all(dir);
}

TEST(Email, broken_and_unusual_messages) {
    // An attachment that cannot be read is named with the reason; the mail is still read.
    const std::string m =
        "From: a@example.org\r\nSubject: broken\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
        "boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
        "--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=scan.pdf\r\n\r\nnot a pdf "
        "at all %PDF-\r\n--B--\r\n";
    auto d = tf::pipeline::read_document("x.eml", m);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_NE(d->text.find("## Attachment: scan.pdf\n\n(attachment 1, a document of its own)"), std::string::npos)
        << d->text;
    // Read inside a message that is itself an attachment, it is named with the reason.
    auto nested = tf::pipeline::read_document("outer.eml#attachment/1/x.eml", m);
    ASSERT_TRUE(nested.ok()) << nested.error().message;
    EXPECT_NE(nested->text.find("## Attachment: scan.pdf\n\n(not read: "), std::string::npos) << nested->text;
    // A .eml that is not a mail at all.
    auto bad = tf::pipeline::read_document("x.eml", std::string("\x00\x01\x02", 3));
    EXPECT_FALSE(bad.ok());
    // A text file that merely starts like a header is text.
    auto txt = tf::pipeline::read_document("notes.txt", "From: me\nSubject: hi\n\nbody\n");
    ASSERT_TRUE(txt.ok());
    EXPECT_EQ(txt->kind, "txt");
}

}  // namespace
