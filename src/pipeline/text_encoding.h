// Text files and web pages as companies have them: UTF-8, UTF-16 with a byte-order mark, or a
// legacy code page (Windows-1252, CP1250, ISO-8859-x, Shift-JIS, …) — turned into UTF-8 so
// that "1.234,56 €" stays "1.234,56 €" and never becomes "1.234,56 �".
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace tf::pipeline {

struct DecodedText {
    std::string text;      // UTF-8
    std::string encoding;  // what the bytes were read as ("UTF-8", "WINDOWS-1252", …)
    std::string how;       // "bom", "declared", "valid", "detected": why that encoding
};

// The encoding decided, in order, by a byte-order mark, by `declared` (an HTML meta charset, an
// e-mail part's charset; ignored when iconv does not know it or the bytes do not decode), by the
// bytes being valid UTF-8, else by uchardet's detection. WHATWG's label rule applies: a page
// that says ISO-8859-1 or US-ASCII is read as Windows-1252. Fails, naming the encoding, when the
// bytes cannot be decoded whole — never a silent U+FFFD.
Result<DecodedText> decode_text(std::string_view bytes, std::string_view declared = {});

// Invalid UTF-8 sequences replaced by U+FFFD; control characters other than tab and newlines
// dropped (they carry no text).
std::string valid_utf8(std::string_view s);

// HTML → text: visible text only, block elements on their own lines, headings as "#", list
// items as "- ", table cells tab-separated, entities decoded (html_text.cpp). `html` is UTF-8.
std::string html_to_text(std::string_view html);

// The charset an HTML page declares in its first 1024 bytes (<meta charset=…> or http-equiv
// Content-Type), lower-cased; "" when none.
std::string html_declared_charset(std::string_view html);

}  // namespace tf::pipeline
