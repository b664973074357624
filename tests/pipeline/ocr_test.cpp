// OCR: a real page (tracemonkey.pdf, page 1) rendered as a scanner would see it, then read back
// by Tesseract — as pixels, as an image-only PDF, in a PDF mixing scanned and text pages, and as
// a PNG file — against the page's own text layer.
#include "pipeline/ocr.h"

#include <gtest/gtest.h>
#include <leptonica/allheaders.h>
#include <poppler-document.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pipeline/document.h"
#include "support/pdf.h"
#include "support/reference.h"
#include "support/run.h"

namespace {

using tf::pipeline::Ocr;

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::string w;
    for (unsigned char c : text + " ") {
        if (std::isalnum(c)) {
            w += static_cast<char>(std::tolower(c));
        } else if (!w.empty()) {
            if (w.size() >= 2) out.push_back(w);
            w.clear();
        }
    }
    return out;
}

// Share of the reference's words (with multiplicity) that the OCR text has.
double recall(const std::string& reference, const std::string& ocr) {
    std::map<std::string, int> have;
    for (const auto& w : words(ocr)) ++have[w];
    const auto ref = words(reference);
    size_t found = 0;
    for (const auto& w : ref) {
        if (have[w] > 0) {
            --have[w];
            ++found;
        }
    }
    return ref.empty() ? 0 : static_cast<double>(found) / static_cast<double>(ref.size());
}

struct Rendered {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // 3 bytes per pixel
    std::string text;          // the page's text layer
    double width_pt = 612, height_pt = 792;
};

// Page 1 of tracemonkey.pdf at 300 dpi, as RGB.
const Rendered& page_one() {
    static Rendered r = [] {
        Rendered out;
        const std::string bytes = slurp(tf::test::shared_dir() / "peer-tests/documents/pdf/tracemonkey.pdf");
        std::vector<char> data(bytes.begin(), bytes.end());
        std::unique_ptr<poppler::document> doc(
            poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
        std::unique_ptr<poppler::page> p(doc->create_page(0));
        const poppler::byte_array t = p->text().to_utf8();
        out.text.assign(t.data(), t.size());
        out.width_pt = p->page_rect().width();
        out.height_pt = p->page_rect().height();
        poppler::page_renderer renderer;
        renderer.set_render_hints(poppler::page_renderer::antialiasing | poppler::page_renderer::text_antialiasing);
        const poppler::image img = renderer.render_page(p.get(), 300, 300);
        out.width = img.width();
        out.height = img.height();
        out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
        for (int y = 0; y < out.height; ++y) {
            const auto* row =
                reinterpret_cast<const uint8_t*>(img.const_data()) + static_cast<size_t>(y) * img.bytes_per_row();
            for (int x = 0; x < out.width; ++x) {
                uint8_t* o = &out.rgb[(static_cast<size_t>(y) * out.width + x) * 3];
                o[0] = row[4 * x + 2], o[1] = row[4 * x + 1], o[2] = row[4 * x];
            }
        }
        return out;
    }();
    return r;
}

// A minimal PDF: each page either an image (RGB, Flate) filling it, or one line of Helvetica text.
struct PdfPage {
    const Rendered* image = nullptr;
    std::string text;
    std::string stray_glyph;  // drawn over an image page: a scan with one stray text glyph
};

std::string make_pdf(const std::vector<PdfPage>& pages) {
    tf::test::PdfBuilder b;
    const size_t catalog = b.add(""), tree = b.add("");
    const size_t font = b.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    std::string kids;
    for (const auto& p : pages) {
        std::string content, resources = "/Font << /F1 " + std::to_string(font) + " 0 R >>";
        double w = 612, h = 792;
        if (p.image) {
            w = p.image->width_pt, h = p.image->height_pt;
            uLongf len = compressBound(p.image->rgb.size());
            std::string z(len, '\0');
            compress2(reinterpret_cast<Bytef*>(z.data()), &len, p.image->rgb.data(), p.image->rgb.size(), 6);
            z.resize(len);
            const size_t img = b.add(
                tf::test::PdfBuilder::stream("/Type /XObject /Subtype /Image /Width " + std::to_string(p.image->width) +
                                                 " /Height " + std::to_string(p.image->height) +
                                                 " /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode",
                                             z));
            resources += " /XObject << /Im0 " + std::to_string(img) + " 0 R >>";
            std::ostringstream c;
            c << "q " << w << " 0 0 " << h << " 0 0 cm /Im0 Do Q\n";
            if (!p.stray_glyph.empty()) c << "BT /F1 8 Tf 20 20 Td (" << p.stray_glyph << ") Tj ET\n";
            content = c.str();
        } else {
            content = "BT /F1 14 Tf 72 700 Td (" + p.text + ") Tj ET\n";
        }
        const size_t cs = b.add(tf::test::PdfBuilder::stream("", content));
        std::ostringstream pg;
        pg << "<< /Type /Page /Parent " << tree << " 0 R /MediaBox [0 0 " << w << " " << h << "] /Resources << "
           << resources << " >> /Contents " << cs << " 0 R >>";
        kids += std::to_string(b.add(pg.str())) + " 0 R ";
    }
    b.set(tree, "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages.size()) + " >>");
    b.set(catalog, "<< /Type /Catalog /Pages " + std::to_string(tree) + " 0 R >>");
    return b.build(catalog);
}

class OcrTest : public ::testing::Test {
  protected:
    void SetUp() override {
        TF_REQUIRE_REFERENCE();
        if (tf::pipeline::installed_ocr_languages().empty())
            GTEST_SKIP() << "no Tesseract language data (scripts/setup.sh installs it)";
        ASSERT_GT(words(page_one().text).size(), 300u);
    }
};

TEST_F(OcrTest, a_page_rendered_at_300_dpi_is_read_with_95_percent_of_its_words) {
    auto ocr = Ocr::open();
    ASSERT_TRUE(ocr.ok()) << ocr.error().message;
    const Rendered& p = page_one();
    auto r = (*ocr)->recognise(p.rgb.data(), p.width, p.height, 3, p.width * 3, 300);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_GE(recall(p.text, r->text), 0.95) << r->text.substr(0, 600);
    EXPECT_GE(r->confidence, 80);
}

TEST_F(OcrTest, a_scanned_pdf_and_a_mixed_one_are_read_page_by_page) {
    const Rendered& p = page_one();
    // Page 1 a scan with one stray glyph in its text layer, page 2 real text.
    const std::string pdf = make_pdf({{&p, "", "x"}, {nullptr, "Invoice total 1234.56 EUR due 2026-12-31", ""}});
    auto d = tf::pipeline::read_document("mixed.pdf", pdf);
    ASSERT_TRUE(d.ok()) << d.error().message;
    ASSERT_EQ(d->page_starts.size(), 2u);
    ASSERT_EQ(d->page_ocr_confidence.size(), 2u);
    EXPECT_GE(d->page_ocr_confidence[0], 80);
    EXPECT_EQ(d->page_ocr_confidence[1], -1);
    const std::string first = d->text.substr(0, d->page_starts[1]);
    EXPECT_GE(recall(p.text, first), 0.95) << first.substr(0, 600);
    EXPECT_NE(d->text.find("Invoice total 1234.56 EUR"), std::string::npos);
    EXPECT_EQ(d->page_of(d->text.find("Invoice total")), 2);
    bool noted = false;
    for (const auto& w : d->warnings)
        noted = noted || w.find("page 1: no text layer, read by OCR") != std::string::npos;
    EXPECT_TRUE(noted);
}

TEST_F(OcrTest, an_image_file_is_read_whatever_its_name_and_a_huge_one_is_refused) {
    const Rendered& p = page_one();
    Pix* pix = pixCreate(p.width, p.height, 32);
    for (int y = 0; y < p.height; ++y)
        for (int x = 0; x < p.width; ++x) {
            const uint8_t* c = &p.rgb[(static_cast<size_t>(y) * p.width + x) * 3];
            composeRGBPixel(c[0], c[1], c[2], pixGetData(pix) + static_cast<size_t>(y) * pixGetWpl(pix) + x);
        }
    pixSetResolution(pix, 300, 300);
    l_uint8* png = nullptr;
    size_t png_size = 0;
    ASSERT_EQ(pixWriteMemPng(&png, &png_size, pix, 0), 0);
    pixDestroy(&pix);
    const std::string bytes(reinterpret_cast<const char*>(png), png_size);
    lept_free(png);
    auto d = tf::pipeline::read_document("scan.txt", bytes);  // misnamed
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->kind, "image");
    EXPECT_GE(recall(p.text, d->text), 0.95);
    ASSERT_FALSE(d->warnings.empty());

    Pix* huge = pixCreate(20000, 20000, 1);
    l_uint8* hp = nullptr;
    size_t hs = 0;
    ASSERT_EQ(pixWriteMemPng(&hp, &hs, huge, 0), 0);
    pixDestroy(&huge);
    const std::string hb(reinterpret_cast<const char*>(hp), hs);
    lept_free(hp);
    auto h = tf::pipeline::read_document("poster.png", hb);
    ASSERT_FALSE(h.ok());
    EXPECT_NE(h.error().message.find("20000×20000"), std::string::npos) << h.error().message;
}

TEST(OcrLanguages, a_missing_language_is_named_with_what_is_installed) {
    auto o = Ocr::open("xyz");
    ASSERT_FALSE(o.ok());
    EXPECT_NE(o.error().message.find("'xyz' is not installed"), std::string::npos) << o.error().message;
}

// The user's path: `text` shows what OCR read, `extract` processes a scan, an image and a mixed
// PDF to results that are ok, and `verify` re-runs them (OCR is deterministic for the same bytes).
TEST_F(OcrTest, extract_text_and_verify_on_scans_end_to_end) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("tf-ocr-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const Rendered& p = page_one();
    std::ofstream(dir / "scan.pdf", std::ios::binary) << make_pdf({{&p, "", ""}});
    std::ofstream(dir / "mixed.pdf", std::ios::binary)
        << make_pdf({{&p, "", "x"}, {nullptr, "Invoice total 42 EUR", ""}});
    std::ofstream(dir / "s.json")
        << R"({"type":"object","properties":{"title":{"type":"string","maxLength":30}},"required":["title"]})";
    auto shown = tf::test::run_terraferma({"text", "--json", (dir / "scan.pdf").string()});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    auto j = nlohmann::json::parse(shown.out);
    ASSERT_EQ(j["ocr_confidence"].size(), 1u);
    EXPECT_GE(j["ocr_confidence"][0].get<int>(), 80);
    EXPECT_GE(recall(p.text, j["pages"][0].get<std::string>()), 0.95);
    auto r = tf::test::run_terraferma({"extract", "-m", (tf::test::reference_dir() / "models/tiny-llama.gguf").string(),
                                       "--schema", (dir / "s.json").string(), "--store", (dir / "j.sqlite").string(),
                                       "-c", "2048", "--max-output", "64", "-o", (dir / "o.jsonl").string(),
                                       (dir / "scan.pdf").string(), (dir / "mixed.pdf").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(dir / "o.jsonl");
    size_t n = 0;
    for (std::string line; std::getline(in, line); ++n) {
        auto l = nlohmann::json::parse(line);
        EXPECT_EQ(l["status"], "ok") << line;
    }
    EXPECT_EQ(n, 2u);
    auto verify = tf::test::run_terraferma({"verify", (dir / "o.manifest.json").string()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    fs::remove_all(dir);
}

}  // namespace
