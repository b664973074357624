// Small text PDFs for tests: pages of Helvetica text runs placed at given points.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace tf::test {

struct PdfRun {
    double x, y;  // points from the bottom-left corner, as PDF places text
    double size;
    std::string text;  // ASCII without parentheses or backslashes
};

inline std::string text_pdf(const std::vector<std::vector<PdfRun>>& pages, double width = 612, double height = 792) {
    std::vector<std::string> objs = {"<< /Type /Catalog /Pages 2 0 R >>", "",
                                     "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
    std::string kids;
    for (const auto& runs : pages) {
        std::string content;
        char buf[96];
        for (const PdfRun& r : runs) {
            std::snprintf(buf, sizeof buf, "BT /F1 %.1f Tf %.1f %.1f Td (", r.size, r.x, r.y);
            content += buf + r.text + ") Tj ET\n";
        }
        objs.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream");
        const std::string cs = std::to_string(objs.size());
        std::snprintf(buf, sizeof buf, "%.0f %.0f", width, height);
        objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + std::string(buf) +
                       "] /Resources << /Font << /F1 3 0 R >> >> /Contents " + cs + " 0 R >>");
        kids += std::to_string(objs.size()) + " 0 R ";
    }
    objs[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages.size()) + " >>";
    std::string out = "%PDF-1.4\n";
    std::vector<size_t> offsets;
    for (size_t i = 0; i < objs.size(); ++i) {
        offsets.push_back(out.size());
        out += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
    }
    const size_t xref = out.size();
    out += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
    for (size_t o : offsets) {
        char line[32];
        std::snprintf(line, sizeof line, "%010zu 00000 n \n", o);
        out += line;
    }
    out += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
           std::to_string(xref) + "\n%%EOF\n";
    return out;
}

}  // namespace tf::test
