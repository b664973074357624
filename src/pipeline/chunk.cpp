#include "pipeline/chunk.h"

#include <algorithm>

namespace tf::pipeline {

namespace {

struct Piece {
    size_t begin, end;
    int tokens;
};

// Paragraphs (split at blank lines); a paragraph longer than max is split at line ends, and a
// line longer than max at UTF-8 boundaries by its share of tokens.
void pieces_of(const std::string& text, size_t begin, size_t end, const tok::Tokenizer& tok, int max, int level,
               std::vector<Piece>& out) {
    const char* sep = level == 0 ? "\n\n" : "\n";
    size_t at = begin;
    while (at < end) {
        size_t next = level < 2 ? text.find(sep, at) : std::string::npos;
        size_t stop = next == std::string::npos || next >= end ? end : next + (level == 0 ? 2 : 1);
        const int n = static_cast<int>(tok.encode(std::string_view(text).substr(at, stop - at), false).size());
        if (n <= max || stop - at <= 4) {
            out.push_back({at, stop, n});
        } else if (level < 2) {
            pieces_of(text, at, stop, tok, max, level + 1, out);
        } else {
            // Hard cut into parts of about max tokens, never inside a UTF-8 character.
            const size_t parts = static_cast<size_t>(n / max + 1);
            const size_t step = (stop - at) / parts + 1;
            for (size_t a = at; a < stop;) {
                size_t b = std::min(stop, a + step);
                while (b < stop && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) ++b;
                out.push_back(
                    {a, b, static_cast<int>(tok.encode(std::string_view(text).substr(a, b - a), false).size())});
                a = b;
            }
        }
        at = stop;
    }
}

}  // namespace

std::vector<Chunk> chunk_document(const Document& doc, const tok::Tokenizer& tok, int max_tokens, int overlap_tokens) {
    std::vector<Piece> pieces;
    pieces_of(doc.text, 0, doc.text.size(), tok, std::max(16, max_tokens), 0, pieces);
    std::vector<Chunk> chunks;
    size_t i = 0;
    while (i < pieces.size()) {
        Chunk c;
        c.begin = pieces[i].begin;
        size_t j = i;
        int total = 0;
        while (j < pieces.size() && (j == i || total + pieces[j].tokens <= max_tokens)) total += pieces[j++].tokens;
        c.end = pieces[j - 1].end;
        c.tokens = total;
        c.page = doc.page_of(c.begin);
        chunks.push_back(c);
        if (j >= pieces.size()) break;
        // Overlap: start the next chunk some pieces back, within overlap_tokens (always progress).
        size_t k = j;
        int back = 0;
        while (k > i + 1 && back + pieces[k - 1].tokens <= overlap_tokens) back += pieces[--k].tokens;
        i = k;
    }
    return chunks;
}

}  // namespace tf::pipeline
