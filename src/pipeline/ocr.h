// OCR for pages without a text layer and for image files: Tesseract (LSTM engine) with the
// language data installed on the machine. One Ocr object holds one loaded recogniser, so the
// pages of a document share its start-up (loading a language takes ~0.3 s).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace tf::pipeline {

struct OcrText {
    std::string text;
    int confidence = 0;  // Tesseract's mean word confidence, 0–100
};

class Ocr {
  public:
    // languages: Tesseract's "eng", "eng+deu"…; empty: $TERRAFERMA_OCR_LANG, else "eng" when
    // installed, else the first language installed. Fails naming what is installed.
    static Result<std::unique_ptr<Ocr>> open(const std::string& languages = {});
    ~Ocr();
    const std::string& languages() const { return languages_; }

    // An image of width×height pixels, bytes_per_pixel 1 (grey), 3 (RGB) or 4 (poppler's
    // ARGB32, i.e. B,G,R,A in memory), rows bytes_per_line apart; dpi as scanned or rendered.
    Result<OcrText> recognise(const uint8_t* pixels, int width, int height, int bytes_per_pixel, int bytes_per_line,
                              int dpi);
    // An image file (PNG, JPEG, TIFF, BMP, GIF, WebP — what Leptonica reads); images over
    // kMaxPixels are refused before they are decoded. A multi-page TIFF: every page, form-feed separated.
    Result<OcrText> recognise_file(std::string_view bytes);

    static constexpr uint64_t kMaxPixels = uint64_t(100) << 20;  // ~100 megapixels: an A0 page at 300 dpi

  private:
    Ocr() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string languages_;
};

// "png", "jpeg", "tiff", "bmp", "gif", "webp" from the first bytes; "" otherwise.
std::string image_format(std::string_view bytes);

// Languages whose data is installed (Tesseract's data directory), sorted; "osd" left out.
std::vector<std::string> installed_ocr_languages();

}  // namespace tf::pipeline
