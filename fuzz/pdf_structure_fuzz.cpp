// libFuzzer target for what Terraferma itself reads of a PDF beyond poppler's text: its form
// (AcroForm fields, XFA datasets, through qpdf, with a password to try) and the reading order
// computed from word boxes (the same bytes read as a list of boxes).
#include <cstdint>
#include <cstring>
#include <string>

#include "pipeline/pdf_forms.h"
#include "pipeline/pdf_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    (void)tf::pipeline::pdf_form(bytes, {"secret"});
    // Boxes: 4 signed 16-bit coordinates and a flag per word, after a 16-bit page width.
    if (size < 2) return 0;
    int16_t width;
    std::memcpy(&width, data, 2);
    std::vector<tf::pipeline::PdfWord> words;
    for (size_t i = 2; i + 9 <= size && words.size() < 4096; i += 9) {
        int16_t v[4];
        std::memcpy(v, data + i, 8);
        words.push_back({"w", double(v[0]), double(v[1]), double(v[2]), double(v[3]), (data[i + 8] & 1) != 0});
    }
    (void)tf::pipeline::column_text(words, width);
    return 0;
}
