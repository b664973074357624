// DOCX (WordprocessingML) to text: the body in order — paragraphs, tables as tab-separated rows,
// content controls (w:sdt) opened, text boxes once (the mc:Choice, never the VML fallback copy)
// as paragraphs of their own, tracked changes as accepted (insertions kept, deletions and moved-
// from text dropped) — then headers and footers once each (first, even and default pages
// usually repeat the same text), footnotes and endnotes after the body, marked [^N] where
// they are referenced; reviewers' comments likewise ([^cN], with their author) when asked.
#include <cstdlib>
#include <pugixml.hpp>
#include <set>
#include <string>
#include <vector>

#include "pipeline/text_encoding.h"
#include "pipeline/word_text.h"
#include "pipeline/zip_archive.h"

namespace tf::pipeline {

namespace {

class DocxText {
  public:
    explicit DocxText(bool comments = false) : comments_(comments) {}

    // The text of a run of blocks (a body, a cell, a text box, a note, a header).
    std::string blocks(const pugi::xml_node& parent) {
        std::string out;
        // Nesting (tables in cells, boxes in boxes) deeper than any real document is not read:
        // a hostile file cannot run the stack out.
        if (++depth_ > kMaxDepth) {
            --depth_;
            return out;
        }
        for (pugi::xml_node n : parent.children()) {
            const std::string_view name = n.name();
            if (name == "w:p") {
                std::vector<pugi::xml_node> boxes;
                const std::string t = paragraph(n, boxes);
                if (!t.empty()) out += t + "\n\n";
                for (const auto& box : boxes) out += blocks(box);
            } else if (name == "w:tbl") {
                const std::string t = table(n);
                if (!t.empty()) out += t + "\n";
            } else if (name == "w:sdt") {
                out += blocks(n.child("w:sdtContent"));
            } else if (name == "w:customXml" || name == "w:ins" || name == "w:moveTo") {
                out += blocks(n);
            }
        }
        --depth_;
        return out;
    }

  private:
    static constexpr int kMaxDepth = 64;
    int depth_ = 0;
    bool comments_;

    // A paragraph's inline text; text boxes met inside are returned to be read after it.
    void inline_text(const pugi::xml_node& n, std::string& text, std::vector<pugi::xml_node>& boxes, int depth = 0) {
        if (depth > kMaxDepth) return;
        for (pugi::xml_node c : n.children()) {
            const std::string_view name = c.name();
            if (name == "mc:Fallback" || name == "w:del" || name == "w:moveFrom" || name == "w:pPr" ||
                name == "w:rPr" || name == "w:instrText")
                continue;
            if (name == "w:t") {
                text += c.text().get();
            } else if (name == "w:tab") {
                text += '\t';
            } else if (name == "w:br" || name == "w:cr") {
                text += '\n';
            } else if (name == "w:noBreakHyphen") {
                text += '-';
            } else if (name == "w:footnoteReference") {
                text += std::string("[^") + c.attribute("w:id").as_string() + "]";
            } else if (name == "w:endnoteReference") {
                text += std::string("[^e") + c.attribute("w:id").as_string() + "]";
            } else if (name == "w:commentReference") {
                if (comments_) text += std::string("[^c") + c.attribute("w:id").as_string() + "]";
            } else if (name == "w:txbxContent") {
                boxes.push_back(c);
            } else {
                inline_text(c, text, boxes, depth + 1);
            }
        }
    }

    std::string paragraph(const pugi::xml_node& p, std::vector<pugi::xml_node>& boxes) {
        std::string text;
        inline_text(p, text, boxes);
        const std::string style = p.child("w:pPr").child("w:pStyle").attribute("w:val").as_string();
        std::string prefix;
        if (style.rfind("Heading", 0) == 0 && style.size() > 7 && std::isdigit(static_cast<unsigned char>(style[7]))) {
            prefix = std::string(static_cast<size_t>(std::min(6, style[7] - '0')), '#') + " ";
        } else if (style == "Title") {
            prefix = "# ";
        } else if (p.child("w:pPr").child("w:numPr")) {
            prefix = "- ";
        }
        return text.empty() ? text : prefix + text;
    }

    std::string table(const pugi::xml_node& tbl) {
        std::string out;
        for (pugi::xml_node tr : tbl.children("w:tr")) {
            std::string row;
            bool any = false;
            int column = 0;
            for (pugi::xml_node tc : tr.children("w:tc")) {
                // A cell's paragraphs on one line, so the row stays one line.
                std::string cell = blocks(tc);
                for (size_t at; (at = cell.find('\n')) != std::string::npos;) {
                    size_t end = at;
                    while (end < cell.size() && cell[end] == '\n') ++end;
                    cell.replace(at, end - at, end == cell.size() ? "" : " ");
                }
                any |= !cell.empty();
                row += (column++ ? "\t" : "") + cell;
            }
            if (any) out += row + "\n";
        }
        return out;
    }
};

Result<pugi::xml_document> load_part(const ZipArchive& zip, const std::string& name) {
    auto xml = zip.read(name);
    if (!xml) return Error{xml.error().message};
    pugi::xml_document doc;
    const pugi::xml_parse_result pr = doc.load_buffer(xml->data(), xml->size());
    if (!pr) return Error{name + " is not valid XML: " + pr.description()};
    return doc;
}

// Headers or footers, each distinct text once.
std::string page_parts(const ZipArchive& zip, const char* kind, const char* title) {
    std::set<std::string> seen;
    std::string out;
    for (int i = 1; i <= 32; ++i) {
        const std::string name = std::string("word/") + kind + std::to_string(i) + ".xml";
        if (!zip.has(name)) continue;
        auto doc = load_part(zip, name);
        if (!doc) continue;
        std::string t = DocxText().blocks(doc->first_child());
        while (!t.empty() && t.back() == '\n') t.pop_back();
        if (!t.empty() && seen.insert(t).second) out += t + "\n\n";
    }
    return out.empty() ? out : std::string("## ") + title + "\n\n" + out;
}

// Footnotes, endnotes or comments with their markers (a comment with its author); the
// separator notes Word keeps are left out.
std::string notes(const ZipArchive& zip, const char* part, const char* element, const char* mark, const char* title) {
    if (!zip.has(part)) return "";
    auto doc = load_part(zip, part);
    if (!doc) return "";
    std::string out;
    for (pugi::xml_node n : doc->first_child().children(element)) {
        const std::string type = n.attribute("w:type").as_string();
        if (!type.empty() && type != "normal") continue;
        std::string t = DocxText().blocks(n);
        while (!t.empty() && t.back() == '\n') t.pop_back();
        const std::string author = n.attribute("w:author").as_string();
        if (!t.empty())
            out += std::string("[^") + mark + n.attribute("w:id").as_string() +
                   "]: " + (author.empty() ? "" : "(" + author + ") ") + t + "\n\n";
    }
    return out.empty() ? out : std::string("## ") + title + "\n\n" + out;
}

}  // namespace

Result<std::string> docx_to_text(const std::string& bytes, bool comments) {
    auto zip = ZipArchive::open(bytes);
    if (!zip) return Error{"not a DOCX file (" + zip.error().message + ")"};
    if (!zip->has("word/document.xml")) return Error{"not a DOCX file (no word/document.xml in the archive)"};
    auto doc = load_part(*zip, "word/document.xml");
    if (!doc) return doc.error();
    const pugi::xml_node body = doc->child("w:document").child("w:body");
    if (!body) return Error{"word/document.xml has no w:body"};
    std::string out = page_parts(*zip, "header", "Header");
    out += DocxText(comments).blocks(body);
    out += notes(*zip, "word/footnotes.xml", "w:footnote", "", "Footnotes");
    out += notes(*zip, "word/endnotes.xml", "w:endnote", "e", "Endnotes");
    if (comments) out += notes(*zip, "word/comments.xml", "w:comment", "c", "Comments");
    out += page_parts(*zip, "footer", "Footer");
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return valid_utf8(out);
}

bool docx_comments_wanted() {
    const char* v = std::getenv("TERRAFERMA_DOCX_COMMENTS");
    return v != nullptr && std::string(v) == "1";
}

}  // namespace tf::pipeline
