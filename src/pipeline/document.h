// A document as the pipeline sees it: its text (UTF-8, structure kept as Markdown-ish headings,
// list items and tab-separated table rows), where each page starts, and the SHA-256 of the
// file's bytes (its identity in the job store).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/text_encoding.h"  // valid_utf8, html_to_text
#include "util/result.h"

namespace tf::pipeline {

struct Document {
    std::string path;
    std::string kind;  // detect_format's: txt, html, csv, pdf, docx, xlsx, odt, ods
    std::string text;
    std::vector<size_t> page_starts;  // byte offset of each page in text (PDF); {0} otherwise
    std::string sha256;
    std::vector<std::string> warnings;  // how it was read, where that was a guess
    // Per page: the OCR's mean confidence (0–100) where the page was read by OCR, -1 where it
    // had a text layer; empty for formats without pages.
    std::vector<int> page_ocr_confidence;

    int page_of(size_t offset) const;  // 1-based
};

// Documents inside documents: an e-mail's attachments are documents of their own, each with
// its own result that names its message. Attachment N (1-based) of MAIL is addressed
// "MAIL#attachment/N/NAME"; every command that takes files reads such an address.
std::string attachment_address(const std::string& mail, size_t n, const std::string& filename);
// The message and attachment number of an address; false for a plain path.
bool split_attachment_address(const std::string& address, std::string& mail, size_t& n);
// The bytes of a file or of an attachment (read out of its message).
Result<std::string> read_document_bytes(const std::string& address);
// The files, each followed by the attachments it holds (an e-mail's); standard input ("-")
// and unreadable files as they are (their error comes when they are read).
std::vector<std::string> expand_documents(const std::vector<std::string>& files);

// Reads and converts one file ("-" is standard input as text). A scanned PDF without text, an
// encrypted or corrupt file, an unknown type: an error naming the file and the reason.
Result<Document> load_document(const std::string& path);
// The same for bytes already read.
Result<Document> read_document(const std::string& path, const std::string& bytes);

// How a file is read: its bytes decide where they are unambiguous (PDF, zip), else its
// extension — "txt", "html", "csv", "pdf", "docx", "xlsx", "odt", "ods", "none" or
// "unsupported:EXT".
std::string detect_format(const std::string& path, std::string_view bytes);
// The converter that reads a format, with its version: part of a result's identity.
std::string reader_id(const std::string& format);
// The same for a document at `path` (a message read inside another message is read whole).
std::string reader_id(const std::string& format, const std::string& path);

// A PDF page with fewer visible characters than this has no real text layer (a scan, or a scan
// with a stray glyph) and is read by OCR, rendered at kOcrDpi.
constexpr size_t kOcrBelowChars = 16;
constexpr double kOcrDpi = 300;

// The converters, for tests and fuzzing.
// The text of each page; an encrypted PDF is opened with the first of `passwords` that fits.
Result<std::vector<std::string>> pdf_pages(const std::string& bytes, const std::vector<std::string>& passwords = {});
// Renders the pages `which` (0-based) and reads them by OCR into pages[i], confidence[i];
// returns a note per page (errors of single pages are notes, not failures).
Result<std::vector<std::string>> ocr_pdf_pages(const std::string& bytes, const std::vector<int>& which,
                                               std::vector<std::string>& pages, std::vector<int>& confidence,
                                               const std::vector<std::string>& passwords = {});

}  // namespace tf::pipeline
