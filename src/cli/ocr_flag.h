// --ocr-lang for every command that reads documents: the Tesseract languages for scanned pages
// and images. It sets TERRAFERMA_OCR_LANG, which the reader and the result's identity (the
// reader id) both read, so a result is never reused across OCR languages.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdlib>

namespace tf::cli {

inline void add_ocr_lang_option(CLI::App* app) {
    app->add_option_function<std::string>(
        "--ocr-lang", [](const std::string& v) { ::setenv("TERRAFERMA_OCR_LANG", v.c_str(), 1); },
        "Tesseract languages for pages without text and for images, e.g. eng or deu+eng (default: "
        "$TERRAFERMA_OCR_LANG, else eng)");
}

}  // namespace tf::cli
