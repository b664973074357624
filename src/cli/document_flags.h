// Options of every command that reads documents. Each sets an environment variable that the
// reader reads (and, for --ocr-lang, the result's identity: the reader id), so that the
// pipeline's worker threads and nested readers (an e-mail's attachments) all see them.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>

namespace tf::cli {

inline void add_document_options(CLI::App* app) {
    // The Tesseract languages for scanned pages and images.
    app->add_option_function<std::string>(
        "--ocr-lang", [](const std::string& v) { ::setenv("TERRAFERMA_OCR_LANG", v.c_str(), 1); },
        "Tesseract languages for pages without text and for images, e.g. eng or deu+eng (default: "
        "$TERRAFERMA_OCR_LANG, else eng)");
    // Only the file's path is passed on: the passwords themselves never reach the environment,
    // the command line or a log.
    app->add_option_function<std::string>(
           "--password-file",
           [](const std::string& v) {
               ::setenv("TERRAFERMA_PDF_PASSWORD_FILE", std::filesystem::absolute(v).c_str(), 1);
           },
           "A file of passwords for encrypted PDFs, one per line, tried in turn (default: "
           "$TERRAFERMA_PDF_PASSWORD_FILE)")
        ->check(CLI::ExistingFile);
    app->add_flag_callback(
        "--docx-comments", [] { ::setenv("TERRAFERMA_DOCX_COMMENTS", "1", 1); },
        "Read reviewers' comments in Word files too (after the notes, marked [^cN] where anchored)");
}

}  // namespace tf::cli
