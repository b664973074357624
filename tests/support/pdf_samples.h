// Generated PDFs the tests read: a two-column paper page, a filled AcroForm, an XFA form, an
// encrypted copy of any PDF (qpdf's writer).
#pragma once

#define POINTERHOLDER_TRANSITION 4
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFWriter.hh>
#include <string>
#include <vector>

#include "support/pdf.h"

namespace tf::test {

// Unique, word-like tokens: consonant-vowel syllables spelling the index.
inline std::string word(size_t i) {
    static const char* cons = "bdfgklmnprstvz";
    static const char* vows = "aeiou";
    std::string w;
    size_t n = i + 1;
    do {
        w += cons[n % 14];
        n /= 14;
        w += vows[n % 5];
        n /= 5;
    } while (n > 0);
    return w + (i % 3 == 0 ? "ly" : "");
}

// Helvetica's advance widths (thousandths of the font size) of the letters word() uses.
inline double width_pt(const std::string& w, double size) {
    double units = 0;
    for (char c : w)
        units += std::string("fiklrt").find(c) != std::string::npos ? (c == 'r'   ? 333
                                                                       : c == 'k' ? 500
                                                                                  : 250)
                 : c == 'm'                                         ? 833
                 : std::string("svyz").find(c) != std::string::npos ? 500
                                                                    : 556;
    return units * size / 1000;
}

// A paper's page: a full-width title, two justified columns of 40 lines with a 14-point gutter
// (as journals set them), a full-width closing line. `source` receives the words in reading
// order.
inline std::string two_column_pdf(std::vector<std::string>& source) {
    std::vector<PdfRun> runs;
    size_t next = 0;
    // Fills a line of `width` points with whole words, spread to its ends (justified).
    auto line = [&](double x, double width, double y, double size) {
        std::vector<std::string> ws;
        double used = 0;
        while (true) {
            const std::string w = word(next + ws.size());
            const double more = width_pt(w, size) + (ws.empty() ? 0 : 0.28 * size);
            if (used + more > width) break;
            used += more;
            ws.push_back(w);
        }
        double natural = 0;
        for (const auto& w : ws) natural += width_pt(w, size);
        const double gap = ws.size() > 1 ? (width - natural) / static_cast<double>(ws.size() - 1) : 0;
        for (const auto& w : ws) {
            runs.push_back({x, y, size, w});
            x += width_pt(w, size) + gap;
            source.push_back(w);
        }
        next += ws.size();
    };
    line(50, 514, 740, 16);  // the title crosses the gutter
    for (double x : {50.0, 314.0})
        for (int l = 0; l < 40; ++l) line(x, 250, 700 - 14.0 * l, 9);
    line(50, 514, 80, 9);  // a full-width closing line
    return tf::test::text_pdf({runs});
}

// A tax form whose fields were filled by a program that wrote values but no appearances
// (NeedAppearances): nothing of them is drawn on the page, so only the form holds them.
inline std::string filled_acroform() {
    PdfBuilder b;
    auto widget = [](const std::string& rest, int y) {
        return "<< /Type /Annot /Subtype /Widget /Rect [200 " + std::to_string(y) + " 400 " + std::to_string(y + 18) +
               "] " + rest + " >>";
    };
    const size_t name = b.add(widget("/FT /Tx /T (f1_01) /TU (Taxpayer name) /V (Jane Example)", 700));
    const size_t income = b.add(widget("/FT /Tx /T (f1_02) /V (48,250.00)", 670));
    const size_t married = b.add(widget("/FT /Btn /T (c1_01) /TU (Married) /V /Yes /AS /Yes", 640));
    const size_t kids = b.add(widget("/FT /Btn /T (c1_02) /TU (Dependants) /V /Off /AS /Off", 610));
    const size_t state = b.add(widget("/FT /Ch /T (state) /TU (State) /Opt [(Bavaria) (Hesse)] /V (Hesse)", 580));
    const size_t note = b.add(widget("/FT /Tx /T (note) /TU (Remarks) /V (first line\rsecond line)", 550));
    std::string refs;
    for (size_t n : {name, income, married, kids, state, note}) refs += std::to_string(n) + " 0 R ";
    return tf::test::text_pdf(
        {{{72, 740, 14, "Income tax return 2025 - form 1"}, {72, 706, 10, "Name"}, {72, 676, 10, "Income"}}},
        "/AcroForm << /Fields [" + refs + "] /NeedAppearances true >>", {"/Annots [" + refs + "]"}, b);
}

// An XFA form as Adobe LiveCycle saves it: the page shows the placeholder, the data is in the
// datasets packet (or missing, when `with_data` is false).
inline std::string xfa_form(bool with_data) {
    PdfBuilder b;
    const size_t tmpl =
        b.add(PdfBuilder::stream("", "<template xmlns=\"http://www.xfa.org/schema/xfa-template/3.3/\"/>"));
    const std::string data = with_data
                                 ? "<claim><applicant><name>Erika Mustermann</name><iban>DE02120300000000202051</iban>"
                                   "</applicant><amount>1234.56</amount><empty></empty></claim>"
                                 : "";
    const size_t datasets =
        b.add(PdfBuilder::stream("", "<xfa:datasets xmlns:xfa=\"http://www.xfa.org/schema/xfa-data/1.0/\"><xfa:data>" +
                                         data + "</xfa:data></xfa:datasets>"));
    return tf::test::text_pdf(
        {{{72, 740, 12, "Please wait..."},
          {72, 720, 10, "If this message is not eventually replaced by the proper contents of the document, your PDF"},
          {72, 708, 10, "viewer may not be able to display this type of document."}}},
        "/AcroForm << /Fields [] /XFA [(template) " + std::to_string(tmpl) + " 0 R (datasets) " +
            std::to_string(datasets) + " 0 R] >>",
        {}, b);
}

// A text PDF encrypted with AES-256 (R6) under the user password `user`.
inline std::string encrypted(const std::string& pdf, const std::string& user) {
    QPDF q;
    q.processMemoryFile("plain", pdf.data(), pdf.size());
    QPDFWriter w(q);
    w.setOutputMemory();
    w.setR6EncryptionParameters(user.c_str(), "owner-secret", true, true, true, true, true, true, qpdf_r3p_full, true);
    w.write();
    auto buf = w.getBufferSharedPointer();
    return std::string(reinterpret_cast<const char*>(buf->getBuffer()), buf->getSize());
}

}  // namespace tf::test
