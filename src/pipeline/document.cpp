#include "pipeline/document.h"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <pugixml.hpp>
#include <span>
#include <sstream>

#include "pipeline/email_text.h"
#include "pipeline/ocr.h"
#include "pipeline/pdf_forms.h"
#include "pipeline/pdf_layout.h"
#include "pipeline/spreadsheet.h"
#include "pipeline/text_encoding.h"
#include "pipeline/word_text.h"
#include "pipeline/zip_archive.h"
#include "util/sha256.h"

namespace tf::pipeline {

int Document::page_of(size_t offset) const {
    const auto it = std::upper_bound(page_starts.begin(), page_starts.end(), offset);
    return static_cast<int>(std::max<std::ptrdiff_t>(1, it - page_starts.begin()));
}

namespace {
// Poppler reports what it repairs on stderr; a batch of documents would drown in it. Errors
// that matter come back as results.
void quiet_poppler(const std::string&, void*) {}

// A page in reading order: column by column where it is set in columns of prose, else poppler's
// physical layout (each visual line whole, as invoices' table rows need).
std::string page_text(const poppler::page& p) {
    std::vector<PdfWord> words;
    for (const poppler::text_box& b : p.text_list()) {
        const poppler::byte_array utf8 = b.text().to_utf8();
        const poppler::rectf r = b.bbox();
        words.push_back(
            {std::string(utf8.data(), utf8.size()), r.left(), r.top(), r.right(), r.bottom(), b.has_space_after()});
    }
    if (auto columns = column_text(words, p.page_rect().width())) return *columns;
    const poppler::byte_array utf8 = p.text().to_utf8();
    return std::string(utf8.data(), utf8.size());
}

// The document over `data` (which must outlive it), unlocked with the first of `passwords` that
// opens it.
Result<std::unique_ptr<poppler::document>> open_pdf(std::vector<char>& data,
                                                    const std::vector<std::string>& passwords) {
    static const bool silenced = (poppler::set_debug_error_function(quiet_poppler, nullptr), true);
    (void)silenced;
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
    if (!doc) return Error{"not a readable PDF (corrupt or truncated)"};
    for (const std::string& pw : passwords) {
        if (!doc->is_locked()) break;
        doc->unlock(pw, pw);  // as the owner's or the user's password
    }
    if (doc->is_locked()) {
        return Error{passwords.empty()
                         ? "the PDF is encrypted (password-protected); give its password with --password-file"
                         : "the PDF is encrypted and none of the --password-file passwords opens it"};
    }
    return doc;
}

}  // namespace

Result<std::vector<std::string>> pdf_pages(const std::string& bytes, const std::vector<std::string>& passwords) {
    std::vector<char> data(bytes.begin(), bytes.end());
    auto opened = open_pdf(data, passwords);
    if (!opened) return opened.error();
    poppler::document* doc = opened->get();
    // A page count far beyond any real document (a crafted file, or a page tree of one page
    // repeated) is refused before anything is read: time and memory stay bounded.
    const char* max_env = std::getenv("TERRAFERMA_PDF_MAX_PAGES");
    const long max_pages = max_env && *max_env ? std::strtol(max_env, nullptr, 10) : 10000;
    if (doc->pages() > max_pages)
        return Error{"the PDF has " + std::to_string(doc->pages()) + " pages, more than the limit of " +
                     std::to_string(max_pages) + " (TERRAFERMA_PDF_MAX_PAGES)"};
    std::vector<std::string> pages;
    for (int i = 0; i < doc->pages(); ++i) {
        std::unique_ptr<poppler::page> p(doc->create_page(i));
        if (!p) {
            pages.emplace_back();
            continue;
        }
        pages.push_back(valid_utf8(page_text(*p)));
    }
    return pages;
}

Result<std::vector<std::string>> ocr_pdf_pages(const std::string& bytes, const std::vector<int>& which,
                                               std::vector<std::string>& pages, std::vector<int>& confidence,
                                               const std::vector<std::string>& passwords) {
    const char* max_env = std::getenv("TERRAFERMA_OCR_MAX_PAGES");
    const size_t max_pages = max_env && *max_env ? std::strtoul(max_env, nullptr, 10) : 1000;
    if (which.size() > max_pages)
        return Error{std::to_string(which.size()) + " pages need OCR, more than the limit of " +
                     std::to_string(max_pages) + " (TERRAFERMA_OCR_MAX_PAGES)"};
    auto ocr = Ocr::open();
    if (!ocr) return ocr.error();
    std::vector<char> data(bytes.begin(), bytes.end());
    auto opened = open_pdf(data, passwords);
    if (!opened) return opened.error();
    poppler::document* doc = opened->get();
    poppler::page_renderer renderer;
    renderer.set_render_hints(poppler::page_renderer::antialiasing | poppler::page_renderer::text_antialiasing);
    std::vector<std::string> notes;
    for (int i : which) {
        std::unique_ptr<poppler::page> p(doc->create_page(i));
        if (!p) continue;
        // 300 dpi, less for a page so large that it would exceed the pixel limit.
        const poppler::rectf box = p->page_rect();
        double dpi = kOcrDpi;
        const double px = box.width() / 72.0 * dpi * box.height() / 72.0 * dpi;
        if (px > static_cast<double>(Ocr::kMaxPixels)) dpi *= std::sqrt(static_cast<double>(Ocr::kMaxPixels) / px);
        const poppler::image img = renderer.render_page(p.get(), dpi, dpi);
        if (!img.is_valid()) {
            notes.push_back("page " + std::to_string(i + 1) + ": cannot be rendered for OCR");
            continue;
        }
        const int bpp = img.format() == poppler::image::format_argb32 || img.format() == poppler::image::format_rgb24
                            ? 4
                        : img.format() == poppler::image::format_gray8 ? 1
                                                                       : 0;
        if (bpp == 0) {
            notes.push_back("page " + std::to_string(i + 1) + ": rendered in an unexpected pixel format");
            continue;
        }
        auto r = (*ocr)->recognise(reinterpret_cast<const uint8_t*>(img.const_data()), img.width(), img.height(), bpp,
                                   img.bytes_per_row(), static_cast<int>(dpi));
        if (!r) {
            notes.push_back("page " + std::to_string(i + 1) + ": OCR failed: " + r.error().message);
            continue;
        }
        pages[static_cast<size_t>(i)] = valid_utf8(r->text);
        confidence[static_cast<size_t>(i)] = r->confidence;
        notes.push_back("page " + std::to_string(i + 1) + ": no text layer, read by OCR (" + (*ocr)->languages() +
                        ", confidence " + std::to_string(r->confidence) + "%)");
    }
    return notes;
}

namespace {
// A mail as saved from a mailbox: its first line a header, and in its header block a From: and
// one of the headers mail software writes (MIME-Version, Received, Message-ID, Return-Path).
bool looks_like_mail(std::string_view bytes) {
    const std::string_view head = bytes.substr(0, 16384);
    const size_t end = head.find("\n\n") != std::string_view::npos ? head.find("\n\n") : head.find("\r\n\r\n");
    if (end == std::string_view::npos) return false;
    static const char* const kFirst[] = {
        "Return-Path:", "Received:", "Delivered-To:", "MIME-Version:", "Message-ID:", "From:", "X-"};
    bool first = false;
    for (const char* f : kFirst) first |= head.substr(0, std::strlen(f)) == f;
    const std::string_view block = head.substr(0, end);
    auto has = [&](const char* h) {
        return block.rfind(h, 0) == 0 || block.find(std::string("\n") + h) != std::string_view::npos;
    };
    // A note that starts "From: … Subject: …" is not a mail: a mail server's headers are there too.
    return first && has("From:") &&
           (has("MIME-Version:") || has("Received:") || has("Message-ID:") || has("Return-Path:"));
}

std::string extension_of(const std::string& path) {
    std::string ext = path == "-" ? std::string() : std::filesystem::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext.empty() ? ext : ext.substr(1);
}
}  // namespace

std::string detect_format(const std::string& path, std::string_view bytes) {
    // The bytes decide where they are unambiguous: a PDF or a zip (DOCX) named anything is read
    // as what it is, never sent to the model as raw syntax.
    if (bytes.substr(0, 5) == "%PDF-") return "pdf";
    if (!image_format(bytes).empty()) return "image";
    const std::string ext = extension_of(path);
    if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
        // Office Open XML and OpenDocument are zip archives: their parts say which.
        if (auto zip = ZipArchive::open(std::string(bytes))) {
            if (zip->has("word/document.xml")) return "docx";
            if (zip->has("xl/workbook.xml")) return "xlsx";
            if (auto mime = zip->read("mimetype", 256)) {
                if (*mime == "application/vnd.oasis.opendocument.text") return "odt";
                if (*mime == "application/vnd.oasis.opendocument.spreadsheet") return "ods";
            }
        }
        if (ext == "docx" || ext == "xlsx" || ext == "odt" || ext == "ods")
            return ext;  // its reader says what is wrong
        return "unsupported:zip";
    }
    // A mail before the looser PDF check: one may quote "%PDF-" in its first kilobyte.
    if (ext == "eml" || looks_like_mail(bytes)) return "eml";
    if (bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos) return "pdf";
    // A web page says so in its first bytes, whatever its name.
    std::string head(bytes.substr(0, 512));
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t lead = head.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (lead != std::string::npos &&
        (head.compare(lead, 14, "<!doctype html") == 0 || head.compare(lead, 5, "<html") == 0))
        return "html";
    if (ext == "txt" || ext == "text" || ext == "md" || ext == "markdown") return "txt";
    if (ext == "html" || ext == "htm" || ext == "xhtml") return "html";
    if (ext == "csv" || ext == "tsv") return "csv";

    if (path == "-") return "txt";
    if (ext == "pdf" || ext == "docx") {
        // Named so but plain text inside (no NUL byte, or a UTF-16 byte-order mark): read as text.
        const std::string_view start = bytes.substr(0, 8192);
        const bool utf16 = start.substr(0, 2) == "\xFF\xFE" || start.substr(0, 2) == "\xFE\xFF";
        if (!bytes.empty() && (utf16 || start.find('\0') == std::string_view::npos)) return "txt";
        return ext;  // not so inside and not text: its reader says why
    }
    return ext.empty() ? "none" : "unsupported:" + ext;
}

std::string reader_id(const std::string& format) {
    // A converter's behaviour: bump the number when its output for the same bytes changes, so
    // that stored results of the old one are not taken for the new one's.
    // 2: pages without text are read by OCR; the OCR language is part of what reads them.
    if (format == "pdf" || format == "image") {
        const char* lang = std::getenv("TERRAFERMA_OCR_LANG");
        const std::string ocr = std::string("+tesseract-") + (lang && *lang ? lang : "default");
        return format == "pdf" ? "pdf/poppler-layout/3" + ocr : "image" + ocr + "/1";
    }
    if (format == "docx")  // 2: notes, headers, text boxes once, content controls
        return std::string("docx/pugixml/2") + (docx_comments_wanted() ? "+comments" : "");
    if (format == "xlsx") return "xlsx/1";
    if (format == "ods") return "ods/1";
    if (format == "odt") return "odt/1";
    if (format == "csv") return "csv/1";
    if (format == "eml") return "eml/gmime/2";  // 2: attachments are documents of their own
    if (format == "html") return "html/2";      // 2: legacy encodings decoded
    if (format == "txt") return "txt/2";
    return format;
}

std::string reader_id(const std::string& format, const std::string& path) {
    std::string mail;
    size_t n = 0;
    // A message inside a message is read whole: other text from the same bytes.
    if (format == "eml" && split_attachment_address(path, mail, n)) return reader_id(format) + "+attachments-inline";
    return reader_id(format);
}

Result<Document> load_document(const std::string& path) {
    std::string bytes;
    if (path == "-") {
        bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        auto read = read_document_bytes(path);
        if (!read) return Error{path + ": " + read.error().message};
        bytes = std::move(*read);
    }
    return read_document(path, bytes);
}

namespace {
constexpr std::string_view kAttachmentMark = "#attachment/";
}  // namespace

std::string attachment_address(const std::string& mail, size_t n, const std::string& filename) {
    std::string name = filename.empty() ? "attachment" : filename;
    std::replace(name.begin(), name.end(), '/', '_');
    return mail + std::string(kAttachmentMark) + std::to_string(n) + "/" + name;
}

bool split_attachment_address(const std::string& address, std::string& mail, size_t& n) {
    const size_t at = address.rfind(kAttachmentMark);
    if (at == std::string::npos) return false;
    const size_t num = at + kAttachmentMark.size(), slash = address.find('/', num);
    if (slash == std::string::npos || slash == num || slash - num > 6) return false;
    size_t v = 0;
    for (size_t i = num; i < slash; ++i) {
        if (address[i] < '0' || address[i] > '9') return false;
        v = v * 10 + static_cast<size_t>(address[i] - '0');
    }
    if (v == 0) return false;
    mail = address.substr(0, at);
    n = v;
    return true;
}

Result<std::string> read_document_bytes(const std::string& address) {
    std::error_code ec;
    std::string mail;
    size_t n = 0;
    // A file of that name wins: a real path may contain the mark.
    if (!std::filesystem::exists(address, ec) && split_attachment_address(address, mail, n)) {
        auto parent = read_document_bytes(mail);
        if (!parent) return parent.error();
        auto m = parse_mail(*parent);
        if (!m) return Error{"its message " + mail + ": " + m.error().message};
        if (n > m->attachments.size())
            return Error{"its message " + mail + " has " + std::to_string(m->attachments.size()) +
                         " attachments, not " + std::to_string(n)};
        return std::move(m->attachments[n - 1].bytes);
    }
    std::ifstream f(address, std::ios::binary);
    if (!f) return Error{"cannot open"};
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::string> expand_documents(const std::vector<std::string>& files) {
    std::vector<std::string> out;
    for (const std::string& path : files) {
        out.push_back(path);
        if (path == "-") continue;
        // Only a message is read whole here: the first 64 KiB tell (a large PDF is not read twice).
        std::ifstream f(path, std::ios::binary);
        std::string head(64 * 1024, '\0');
        f.read(head.data(), static_cast<std::streamsize>(head.size()));
        head.resize(static_cast<size_t>(f.gcount()));
        if (!f.eof() && !f) continue;
        if (detect_format(path, head) != "eml") continue;
        auto bytes = read_document_bytes(path);
        if (!bytes) continue;
        auto m = parse_mail(*bytes);
        if (!m) continue;
        for (size_t i = 0; i < m->attachments.size(); ++i)
            out.push_back(attachment_address(path, i + 1, m->attachments[i].filename));
    }
    return out;
}

namespace {

// Adobe's text on the pages of an XFA form, shown by viewers that cannot render XFA: never
// content. Removes it from a page; true when it was there.
bool strip_xfa_placeholder(std::string& page) {
    static const char* kMarks[] = {"Please wait...", "If this message is not eventually replaced"};
    if (page.find(kMarks[1]) == std::string::npos) return false;
    // The placeholder is the page's whole text layer (a few lines); drop those lines.
    std::string kept, line;
    std::istringstream in(page);
    bool in_placeholder = false;
    while (std::getline(in, line)) {
        const bool mark = line.find(kMarks[0]) != std::string::npos || line.find(kMarks[1]) != std::string::npos;
        in_placeholder = mark || (in_placeholder && line.find_first_not_of(" \t") != std::string::npos);
        if (!in_placeholder) kept += line + "\n";
    }
    page = kept;
    return true;
}

// Appends "Form fields" to the page each field's widget is on, and an XFA form's data to the
// first page.
void add_form_text(const PdfForm& form, std::vector<std::string>& pages, std::vector<std::string>& warnings) {
    if (pages.empty()) return;
    std::vector<std::string> blocks(pages.size());
    for (const PdfFormField& f : form.fields) {
        const size_t p =
            f.page >= 0 && static_cast<size_t>(f.page) < pages.size() ? static_cast<size_t>(f.page) : pages.size() - 1;
        blocks[p] += f.name + ": " + valid_utf8(f.value) + "\n";
    }
    for (size_t p = 0; p < pages.size(); ++p) {
        if (blocks[p].empty()) continue;
        if (!pages[p].empty() && pages[p].back() != '\n') pages[p] += "\n";
        pages[p] += "\nForm fields:\n" + blocks[p];
    }
    if (!form.xfa) return;
    if (form.xfa_data.empty()) {
        warnings.push_back("an XFA form whose datasets hold no data: only what its pages show was read");
        return;
    }
    std::string data;
    for (const PdfFormField& f : form.xfa_data) data += f.name + ": " + valid_utf8(f.value) + "\n";
    if (!pages[0].empty() && pages[0].back() != '\n') pages[0] += "\n";
    pages[0] += "\nXFA form data:\n" + data;
    warnings.push_back("an XFA form: its " + std::to_string(form.xfa_data.size()) +
                       " data values were read from the form's datasets");
}

}  // namespace

Result<Document> read_document(const std::string& path, const std::string& bytes) {
    Document d;
    d.path = path;
    d.kind = detect_format(path, bytes);
    d.sha256 = sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    d.page_starts = {0};
    // The extension is a hint: a file whose content says otherwise is read by what it is.
    if (const std::string ext = extension_of(path); (ext == "pdf" || ext == "docx" || ext == "xlsx" || ext == "odt" ||
                                                     ext == "ods" || ext == "txt" || ext == "html" || ext == "htm") &&
                                                    d.kind != ext && !(ext == "htm" && d.kind == "html")) {
        d.warnings.push_back("named ." + ext + " but its content is " + d.kind + ": read as " + d.kind);
    }
    if (d.kind == "txt" || d.kind == "html" || d.kind == "csv") {
        auto decoded = decode_text(bytes, d.kind == "html" ? html_declared_charset(bytes) : std::string());
        if (!decoded) return Error{path + ": " + decoded.error().message};
        if (decoded->how == "detected")
            d.warnings.push_back("read as " + decoded->encoding +
                                 " (detected: the file is not UTF-8 and does not say)");
        if (d.kind == "csv") {
            auto table = csv_to_text(decoded->text);
            if (!table) return Error{path + ": " + table.error().message};
            d.text = valid_utf8(*table);
        } else {
            d.text = d.kind == "txt" ? valid_utf8(decoded->text) : html_to_text(decoded->text);
        }
    } else if (d.kind == "eml") {
        auto mail = parse_mail(bytes);
        if (!mail) return Error{path + ": " + mail.error().message};
        // A message's attachments are documents of their own (expand_documents lists them after
        // it); the message's text names them by their number. A message that is itself an attachment (forwarded)
        // is read whole, its attachments in it, since only the outer message is expanded.
        std::string parent;
        size_t n = 0;
        const bool nested = split_attachment_address(path, parent, n);
        size_t index = 0;
        static thread_local int depth = 0;
        d.text = mail_to_text(*mail, [&](const MailAttachment& a) -> Result<std::string> {
            ++index;
            // Not the address: the text (the model's input) must not depend on where the file is.
            if (!nested) return "(attachment " + std::to_string(index) + ", a document of its own)";
            if (depth >= 2) return Error{"nested too deep"};
            ++depth;
            auto sub = read_document(a.filename, a.bytes);
            --depth;
            if (!sub) {
                const std::string& m = sub.error().message;
                return Error{m.rfind(a.filename + ": ", 0) == 0 ? m.substr(a.filename.size() + 2) : m};
            }
            for (const auto& w : sub->warnings) d.warnings.push_back(a.filename + ": " + w);
            return sub->text;
        });
    } else if (d.kind == "xlsx" || d.kind == "ods" || d.kind == "odt") {
        auto text = d.kind == "xlsx" ? xlsx_to_text(bytes) : d.kind == "ods" ? ods_to_text(bytes) : odt_to_text(bytes);
        if (!text) return Error{path + ": " + text.error().message};
        d.text = valid_utf8(*text);
    } else if (d.kind == "pdf") {
        auto passwords = pdf_passwords();
        if (!passwords) return Error{path + ": " + passwords.error().message};
        auto pages = pdf_pages(bytes, *passwords);
        if (!pages) return Error{path + ": " + pages.error().message};
        // Form values with their names, and an XFA form's data in place of its placeholder.
        std::vector<bool> placeholder(pages->size(), false);
        auto form = pdf_form(bytes, *passwords);
        if (!form) {
            d.warnings.push_back("form fields not read: " + form.error().message);
        } else {
            for (size_t i = 0; i < pages->size() && form->xfa; ++i) placeholder[i] = strip_xfa_placeholder((*pages)[i]);
            add_form_text(*form, *pages, d.warnings);
        }
        // Pages without a real text layer (a scan, or a scan with a stray glyph) are read by OCR;
        // not a page that only showed an XFA form's placeholder (OCR would read it again).
        std::vector<int> sparse;
        for (size_t i = 0; i < pages->size(); ++i) {
            const std::string& t = (*pages)[i];
            const size_t visible =
                static_cast<size_t>(std::count_if(t.begin(), t.end(), [](unsigned char c) { return c > ' '; }));
            if (visible < kOcrBelowChars && !placeholder[i]) sparse.push_back(static_cast<int>(i));
        }
        d.page_ocr_confidence.assign(pages->size(), -1);
        if (!sparse.empty()) {
            auto ocr = ocr_pdf_pages(bytes, sparse, *pages, d.page_ocr_confidence, *passwords);
            if (!ocr) {
                if (sparse.size() == pages->size())
                    return Error{path + ": the PDF has no text layer (" + std::to_string(pages->size()) +
                                 " pages) and OCR failed: " + ocr.error().message};
                d.warnings.push_back("pages without text left empty: " + ocr.error().message);
            } else {
                d.warnings.insert(d.warnings.end(), ocr->begin(), ocr->end());
            }
        }
        d.page_starts.clear();
        for (const std::string& p : *pages) {
            d.page_starts.push_back(d.text.size());
            d.text += p;
            if (!d.text.empty() && d.text.back() != '\n') d.text += "\n";
            d.text += "\n";
        }
        if (d.page_starts.empty()) d.page_starts = {0};
        if (d.text.find_first_not_of(" \t\r\n\f") == std::string::npos) {
            if (std::find(placeholder.begin(), placeholder.end(), true) != placeholder.end())
                return Error{path +
                             ": an XFA form without its data: the pages show only the viewer's \"Please wait...\" "
                             "placeholder and the form's datasets are empty (save it from a viewer that renders "
                             "XFA, or print it to PDF)"};
            return Error{path + ": the PDF has no text layer and OCR found no text either (" +
                         std::to_string(pages->size()) + " pages)"};
        }
    } else if (d.kind == "image") {
        auto ocr = Ocr::open();
        if (!ocr) return Error{path + ": an image is read by OCR: " + ocr.error().message};
        auto r = (*ocr)->recognise_file(bytes);
        if (!r) return Error{path + ": " + r.error().message};
        d.text = valid_utf8(r->text);
        d.page_ocr_confidence = {r->confidence};
        d.warnings.push_back("read by OCR (" + (*ocr)->languages() + ", confidence " + std::to_string(r->confidence) +
                             "%)");
    } else if (d.kind == "docx") {
        auto text = docx_to_text(bytes, docx_comments_wanted());
        if (!text) return Error{path + ": " + text.error().message};
        d.text = std::move(text.value());
    } else {
        const std::string ext = d.kind.rfind("unsupported:", 0) == 0 ? d.kind.substr(12) : std::string("(none)");
        return Error{path + ": unsupported document type '" + ext +
                     "' (txt, md, html, csv, eml, pdf, docx, xlsx, odt, ods, and images by OCR)"};
    }
    if (d.text.find_first_not_of(" \t\r\n\f") == std::string::npos) return Error{path + ": the document has no text"};
    return d;
}

}  // namespace tf::pipeline
