// Reading order of a PDF page from its words' geometry. Poppler's physical layout keeps each
// visual line whole — right for invoices, whose table rows must stay on one line — but a page
// set in two columns then interleaves them line by line. A page is read column by column only
// where its geometry says it is set in columns of prose.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tf::pipeline {

struct PdfWord {
    std::string text;
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // y grows down the page
    bool space_after = true;
};

// The page's text column by column — full-width lines (titles, a table spanning the gutter)
// keep their place between the bands of columns — or nothing when the page is not set in two
// columns of prose: no vertical gutter through the middle of its text, too few words on either
// side, or lines with table-like gaps (cells, not words).
std::optional<std::string> column_text(const std::vector<PdfWord>& words, double page_width);

}  // namespace tf::pipeline
