// Small PDFs for tests: objects added one by one, the cross-reference table written for them;
// text_pdf makes pages of Helvetica text runs placed at given points.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace tf::test {

class PdfBuilder {
  public:
    // Adds an object (its body without "N 0 obj"); returns its number.
    size_t add(std::string body) {
        objs_.push_back(std::move(body));
        return objs_.size();
    }
    void set(size_t number, std::string body) { objs_[number - 1] = std::move(body); }
    static std::string stream(const std::string& dict_entries, const std::string& data) {
        return "<< " + dict_entries + " /Length " + std::to_string(data.size()) + " >>\nstream\n" + data +
               "\nendstream";
    }
    std::string build(size_t root) const {
        std::string out = "%PDF-1.7\n";
        std::vector<size_t> offsets;
        for (size_t i = 0; i < objs_.size(); ++i) {
            offsets.push_back(out.size());
            out += std::to_string(i + 1) + " 0 obj\n" + objs_[i] + "\nendobj\n";
        }
        const size_t xref = out.size();
        out += "xref\n0 " + std::to_string(objs_.size() + 1) + "\n0000000000 65535 f \n";
        for (size_t o : offsets) {
            char line[32];
            std::snprintf(line, sizeof line, "%010zu 00000 n \n", o);
            out += line;
        }
        out += "trailer\n<< /Size " + std::to_string(objs_.size() + 1) + " /Root " + std::to_string(root) +
               " 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
        return out;
    }

  private:
    std::vector<std::string> objs_;
};

struct PdfRun {
    double x, y;  // points from the bottom-left corner, as PDF places text
    double size;
    std::string text;  // ASCII without parentheses or backslashes
};

// A content stream drawing the runs in Helvetica (resource /F1).
inline std::string text_content(const std::vector<PdfRun>& runs) {
    std::string content;
    char buf[96];
    for (const PdfRun& r : runs) {
        std::snprintf(buf, sizeof buf, "BT /F1 %.1f Tf %.1f %.1f Td (", r.size, r.x, r.y);
        content += buf + r.text + ") Tj ET\n";
    }
    return content;
}

// Pages of text; `catalog_extra` is added to the catalog (an /AcroForm, say) and
// `page_extra[i]` to page i's dictionary (its /Annots).
inline std::string text_pdf(const std::vector<std::vector<PdfRun>>& pages, const std::string& catalog_extra = "",
                            const std::vector<std::string>& page_extra = {}, PdfBuilder b = {}) {
    const size_t catalog = b.add(""), tree = b.add("");
    const size_t font = b.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    std::string kids;
    for (size_t i = 0; i < pages.size(); ++i) {
        const size_t cs = b.add(PdfBuilder::stream("", text_content(pages[i])));
        kids += std::to_string(b.add("<< /Type /Page /Parent " + std::to_string(tree) +
                                     " 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 " + std::to_string(font) +
                                     " 0 R >> >> /Contents " + std::to_string(cs) + " 0 R " +
                                     (i < page_extra.size() ? page_extra[i] : "") + " >>")) +
                " 0 R ";
    }
    b.set(tree, "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages.size()) + " >>");
    b.set(catalog, "<< /Type /Catalog /Pages " + std::to_string(tree) + " 0 R " + catalog_extra + " >>");
    return b.build(catalog);
}

}  // namespace tf::test
