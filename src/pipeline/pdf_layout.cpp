#include "pipeline/pdf_layout.h"

#include <algorithm>
#include <cmath>

namespace tf::pipeline {

namespace {

struct Line {
    double y0, y1;
    std::vector<const PdfWord*> words;
};

// Words grouped into lines: a word joins the line its vertical centre falls in.
std::vector<Line> lines_of(std::vector<const PdfWord*> words) {
    std::sort(words.begin(), words.end(), [](const PdfWord* a, const PdfWord* b) {
        return a->y0 + a->y1 < b->y0 + b->y1 || (a->y0 + a->y1 == b->y0 + b->y1 && a->x0 < b->x0);
    });
    std::vector<Line> lines;
    for (const PdfWord* w : words) {
        const double c = (w->y0 + w->y1) / 2;
        if (!lines.empty() && c >= lines.back().y0 && c <= lines.back().y1) {
            lines.back().words.push_back(w);
            lines.back().y0 = std::min(lines.back().y0, w->y0);
            lines.back().y1 = std::max(lines.back().y1, w->y1);
        } else {
            lines.push_back({w->y0, w->y1, {w}});
        }
    }
    for (Line& l : lines)
        std::sort(l.words.begin(), l.words.end(), [](const PdfWord* a, const PdfWord* b) { return a->x0 < b->x0; });
    return lines;
}

std::string line_text(const Line& l) {
    std::string s;
    for (size_t i = 0; i < l.words.size(); ++i) {
        s += l.words[i]->text;
        if (i + 1 < l.words.size()) {
            // A gap wider than a third of the line's height is a space even where the box says none.
            const bool gap = l.words[i + 1]->x0 - l.words[i]->x1 > (l.y1 - l.y0) / 3;
            if (l.words[i]->space_after || gap) s += ' ';
        }
    }
    return s;
}

// Prose, not a table: most lines have several words and no gap wider than a few characters.
bool prose(const std::vector<Line>& lines) {
    if (lines.empty()) return false;
    size_t words = 0, tight = 0;
    for (const Line& l : lines) {
        words += l.words.size();
        const double h = l.y1 - l.y0;
        bool ok = true;
        for (size_t i = 1; i < l.words.size(); ++i) ok = ok && l.words[i]->x0 - l.words[i - 1]->x1 <= 1.5 * h;
        tight += ok;
    }
    return words >= 3 * lines.size() && tight * 10 >= lines.size() * 9;
}

}  // namespace

std::optional<std::string> column_text(const std::vector<PdfWord>& all_words, double page_width) {
    // Boxes with coordinates that are not numbers (a broken file) cannot be placed: left out.
    std::vector<PdfWord> words;
    words.reserve(all_words.size());
    for (const PdfWord& w : all_words)
        if (std::isfinite(w.x0) && std::isfinite(w.x1) && std::isfinite(w.y0) && std::isfinite(w.y1))
            words.push_back(w);
    constexpr size_t kMinWords = 40;
    constexpr double kMinGutter = 6;  // points: wider than any gap between words of a line
    if (words.size() < kMinWords || !(page_width > 0) || page_width > 20000) return std::nullopt;
    // How many words cover each point across the page; the gutter is the widest run in the
    // middle that (almost) none covers — a full-width title or rule may cross it.
    const auto W = static_cast<size_t>(std::ceil(page_width));
    std::vector<size_t> cover(W + 1, 0);
    for (const PdfWord& w : words) {
        const auto a = static_cast<size_t>(std::clamp(std::floor(w.x0), 0.0, static_cast<double>(W)));
        const auto b = static_cast<size_t>(std::clamp(std::ceil(w.x1), 0.0, static_cast<double>(W)));
        for (size_t x = a; x <= b; ++x) ++cover[x];
    }
    const size_t allowed = std::max<size_t>(2, words.size() / 30);
    size_t best_lo = 0, best_hi = 0;
    for (size_t x = W / 5; x <= W * 4 / 5;) {
        if (cover[x] > allowed) {
            ++x;
            continue;
        }
        size_t end = x;
        while (end + 1 <= W * 4 / 5 && cover[end + 1] <= allowed) ++end;
        if (end - x > best_hi - best_lo) best_lo = x, best_hi = end;
        x = end + 1;
    }
    if (static_cast<double>(best_hi - best_lo) < kMinGutter) return std::nullopt;
    const double g0 = static_cast<double>(best_lo), g1 = static_cast<double>(best_hi);

    // Words crossing the gutter mark full-width bands: every word whose centre lies in one
    // belongs to that band's line, not to a column.
    std::vector<std::pair<double, double>> bands;
    for (const PdfWord& w : words)
        if (w.x1 >= g0 && w.x0 <= g1) bands.emplace_back(w.y0, w.y1);
    std::sort(bands.begin(), bands.end());
    auto in_band = [&](const PdfWord& w) {
        const double c = (w.y0 + w.y1) / 2;
        return std::any_of(bands.begin(), bands.end(), [&](const auto& b) { return c >= b.first && c <= b.second; });
    };
    std::vector<const PdfWord*> left, right, full;
    for (const PdfWord& w : words) {
        if (in_band(w))
            full.push_back(&w);
        else
            (w.x1 < g0 ? left : right).push_back(&w);
    }
    if (left.size() * 4 < words.size() || right.size() * 4 < words.size()) return std::nullopt;
    const std::vector<Line> L = lines_of(left), R = lines_of(right), F = lines_of(full);
    if (!prose(L) || !prose(R)) return std::nullopt;

    // Bands of columns between full-width lines: each band's left column, then its right one.
    std::string out;
    size_t li = 0, ri = 0;
    auto emit_until = [&](double y) {
        for (; li < L.size() && (L[li].y0 + L[li].y1) / 2 < y; ++li) out += line_text(L[li]) + "\n";
        for (; ri < R.size() && (R[ri].y0 + R[ri].y1) / 2 < y; ++ri) out += line_text(R[ri]) + "\n";
    };
    for (const Line& f : F) {
        emit_until((f.y0 + f.y1) / 2);
        out += line_text(f) + "\n";
    }
    emit_until(INFINITY);
    return out;
}

}  // namespace tf::pipeline
