// PDF forms and encryption: a filled AcroForm's values come with their names, an XFA form's
// data replaces Adobe's placeholder, and an encrypted PDF opens with a password from a file.
#include "pipeline/pdf_forms.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "pipeline/document.h"
#include "support/pdf_samples.h"
#include "support/run.h"

namespace {

using tf::test::encrypted;
using tf::test::filled_acroform;
using tf::test::xfa_form;

struct TempDir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("tf-forms-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    TempDir() { std::filesystem::create_directories(path); }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string write(const std::string& name, const std::string& bytes) const {
        std::ofstream(path / name, std::ios::binary) << bytes;
        return (path / name).string();
    }
};

TEST(PdfForms, a_filled_acroform_gives_its_values_with_their_names) {
    auto d = tf::pipeline::read_document("form.pdf", filled_acroform());
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_NE(d->text.find("Income tax return 2025"), std::string::npos) << d->text;
    EXPECT_NE(d->text.find("Form fields:\n"), std::string::npos) << d->text;
    EXPECT_NE(d->text.find("Taxpayer name: Jane Example\n"), std::string::npos) << d->text;
    EXPECT_NE(d->text.find("f1_02: 48,250.00\n"), std::string::npos) << d->text;  // no /TU: its full name
    EXPECT_NE(d->text.find("Married: checked\n"), std::string::npos) << d->text;
    EXPECT_EQ(d->text.find("Dependants"), std::string::npos) << "an unchecked box is no value: " << d->text;
    EXPECT_NE(d->text.find("State: Hesse\n"), std::string::npos) << d->text;
    EXPECT_NE(d->text.find("Remarks: first line\nsecond line\n"), std::string::npos) << d->text;
}

TEST(PdfForms, an_xfa_form_gives_its_data_never_the_placeholder) {
    auto d = tf::pipeline::read_document("claim.pdf", xfa_form(true));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->text.find("Please wait"), std::string::npos) << d->text;
    EXPECT_EQ(d->text.find("PDF viewer"), std::string::npos) << d->text;
    EXPECT_NE(d->text.find("XFA form data:\n"), std::string::npos) << d->text;
    EXPECT_NE(d->text.find("claim.applicant.name: Erika Mustermann\n"), std::string::npos) << d->text;
    EXPECT_NE(d->text.find("claim.amount: 1234.56\n"), std::string::npos) << d->text;
    ASSERT_FALSE(d->warnings.empty());
    EXPECT_NE(d->warnings.back().find("XFA"), std::string::npos);

    // Without data there is nothing to read: an error that says why, not the placeholder.
    auto empty = tf::pipeline::read_document("blank.pdf", xfa_form(false));
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("XFA form without its data"), std::string::npos) << empty.error().message;
}

TEST(PdfForms, an_encrypted_pdf_opens_with_a_password_from_a_file) {
    const std::string pdf =
        encrypted(tf::test::text_pdf({{{72, 700, 12, "Salary statement for Jane Example"}}}), "s3cret");
    TempDir dir;
    const std::string path = dir.write("locked.pdf", pdf);
    ::unsetenv("TERRAFERMA_PDF_PASSWORD_FILE");
    auto locked = tf::pipeline::read_document(path, pdf);
    ASSERT_FALSE(locked);
    EXPECT_NE(locked.error().message.find("--password-file"), std::string::npos) << locked.error().message;

    // Through the command: the second password of the file opens it.
    const std::string passwords = dir.write("passwords.txt", "wrong-one\r\ns3cret\n");
    auto r = tf::test::run_terraferma({"text", "--password-file", passwords, path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Salary statement for Jane Example"), std::string::npos) << r.out << r.err;
    EXPECT_EQ(r.err.find("s3cret"), std::string::npos) << "a password in the output: " << r.err;

    // None fits: a clear error naming the cause.
    const std::string wrong = dir.write("wrong.txt", "nope\n");
    r = tf::test::run_terraferma({"text", "--password-file", wrong, path});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("none of the --password-file passwords opens it"), std::string::npos) << r.err;
    // A missing password file is a usage error before any document is read.
    r = tf::test::run_terraferma({"text", "--password-file", (dir.path / "absent").string(), path});
    EXPECT_NE(r.exit_code, 0);
}

TEST(PdfForms, structure_errors_are_warnings_not_crashes) {
    // A form whose /Fields is garbage, and a file that is no PDF at all.
    const std::string odd =
        tf::test::text_pdf({{{72, 700, 12, "Some text on the page"}}}, "/AcroForm << /Fields 17 >>");
    auto d = tf::pipeline::read_document("odd.pdf", odd);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_NE(d->text.find("Some text on the page"), std::string::npos);
    auto f = tf::pipeline::pdf_form("not a pdf at all", {});
    EXPECT_FALSE(f);
    // XFA data nested 100,000 deep is read without running the stack out.
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += "<a>";
    deep += "x";
    for (int i = 0; i < 100000; ++i) deep += "</a>";
    tf::test::PdfBuilder b;
    const size_t datasets = b.add(tf::test::PdfBuilder::stream(
        "", "<xfa:datasets xmlns:xfa=\"http://www.xfa.org/schema/xfa-data/1.0/\"><xfa:data>" + deep +
                "</xfa:data></xfa:datasets>"));
    const std::string pdf =
        tf::test::text_pdf({{{72, 700, 12, "A form"}}},
                           "/AcroForm << /Fields [] /XFA [(datasets) " + std::to_string(datasets) + " 0 R] >>", {}, b);
    auto form = tf::pipeline::pdf_form(pdf, {});
    ASSERT_TRUE(form) << form.error().message;
    EXPECT_TRUE(form->xfa);
}

// A PDF of 100,000 pages (all drawing one content stream) is refused at once, before any page
// is read.
TEST(PdfLimits, a_hundred_thousand_pages_are_refused_quickly) {
    tf::test::PdfBuilder b;
    const size_t catalog = b.add(""), tree = b.add("");
    const size_t content = b.add(tf::test::PdfBuilder::stream("", "BT /F1 12 Tf 72 700 Td (page) Tj ET"));
    std::string kids;
    kids.reserve(100000 * 9);
    for (int i = 0; i < 100000; ++i) {
        const size_t page = b.add("<< /Type /Page /Parent " + std::to_string(tree) +
                                  " 0 R /MediaBox [0 0 612 792] /Contents " + std::to_string(content) + " 0 R >>");
        kids += std::to_string(page) + " 0 R ";
    }
    b.set(tree, "<< /Type /Pages /Kids [" + kids + "] /Count 100000 >>");
    b.set(catalog, "<< /Type /Catalog /Pages " + std::to_string(tree) + " 0 R >>");
    const auto t0 = std::chrono::steady_clock::now();
    auto d = tf::pipeline::read_document("huge.pdf", b.build(catalog));
    std::printf("100k-page PDF answered in %.0f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("more than the limit of 10000"), std::string::npos) << d.error().message;
}

}  // namespace
