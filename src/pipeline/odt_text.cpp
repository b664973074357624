// OpenDocument text (ODT) as the pipeline's Markdown-ish text: headings by outline level, list
// items, tables as tab-separated rows, footnotes and endnotes after the body (marked), spaces
// (text:s), tabs and line breaks kept.
#include <algorithm>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "pipeline/text_encoding.h"
#include "pipeline/word_text.h"
#include "pipeline/zip_archive.h"

namespace tf::pipeline {

namespace {

// Inline content of a paragraph or heading; notes are collected aside.
void inline_text(const pugi::xml_node& n, std::string& out, std::vector<std::string>& notes) {
    for (pugi::xml_node c : n.children()) {
        if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
            out += c.value();
            continue;
        }
        const std::string name = c.name();
        if (name == "text:s")
            out += std::string(std::max(1u, c.attribute("text:c").as_uint()), ' ');
        else if (name == "text:tab")
            out += '\t';
        else if (name == "text:line-break")
            out += '\n';
        else if (name == "text:note") {
            std::string body, ignored;
            std::vector<std::string> nested;
            for (pugi::xml_node p : c.child("text:note-body").children()) {
                inline_text(p, body, nested);
                body += ' ';
            }
            while (!body.empty() && body.back() == ' ') body.pop_back();
            const std::string mark = c.child("text:note-citation").text().get();
            out += "[" + mark + "]";
            notes.push_back("[" + mark + "] " + body);
        } else if (name == "text:note-citation" || name == "office:annotation") {
            continue;
        } else {
            inline_text(c, out, notes);
        }
    }
}

void block(const pugi::xml_node& n, std::string& out, std::vector<std::string>& notes, int list_depth) {
    for (pugi::xml_node c : n.children()) {
        const std::string name = c.name();
        if (name == "text:h" || name == "text:p") {
            std::string t;
            inline_text(c, t, notes);
            if (t.find_first_not_of(" \t\n") == std::string::npos) continue;
            std::string prefix;
            if (name == "text:h")
                prefix = std::string(static_cast<size_t>(std::clamp(c.attribute("text:outline-level").as_int(1), 1, 6)),
                                     '#') +
                         " ";
            else if (list_depth > 0)
                prefix = std::string(static_cast<size_t>(2 * (list_depth - 1)), ' ') + "- ";
            out += prefix + t + (list_depth > 0 ? "\n" : "\n\n");
        } else if (name == "text:list") {
            block(c, out, notes, list_depth + 1);
            if (list_depth == 0) out += "\n";
        } else if (name == "table:table") {
            for (const pugi::xpath_node& xr : c.select_nodes(".//table:table-row")) {
                std::string row;
                bool any = false;
                int column = 0;
                for (pugi::xml_node cell : xr.node().children("table:table-cell")) {
                    std::string t;
                    for (pugi::xml_node p : cell.children()) {
                        std::string one;
                        inline_text(p, one, notes);
                        if (!one.empty()) t += (t.empty() ? "" : " ") + one;
                    }
                    for (char& ch : t) {
                        if (ch == '\t' || ch == '\n') ch = ' ';
                    }
                    any |= !t.empty();
                    row += (column++ ? "\t" : "") + t;
                }
                if (any) out += row + "\n";
            }
            out += "\n";
        } else if (name == "text:list-item" || name == "text:section" || name == "text:list-header" ||
                   name == "draw:frame" || name == "draw:text-box") {
            block(c, out, notes, list_depth);
        }
    }
}

}  // namespace

Result<std::string> odt_to_text(const std::string& bytes) {
    auto zip = ZipArchive::open(bytes);
    if (!zip) return Error{"not an ODT file (" + zip.error().message + ")"};
    auto xml = zip->read("content.xml");
    if (!xml) return Error{"not an ODT file (" + xml.error().message + ")"};
    pugi::xml_document doc;
    const auto r = doc.load_buffer(xml->data(), xml->size());
    if (!r) return Error{std::string("content.xml is not valid XML: ") + r.description()};
    const pugi::xml_node body = doc.child("office:document-content").child("office:body").child("office:text");
    if (!body) return Error{"not an ODT file (no office:text in content.xml)"};
    std::string out;
    std::vector<std::string> notes;
    block(body, out, notes, 0);
    if (!notes.empty()) {
        out += "## Notes\n\n";
        for (const auto& n : notes) out += n + "\n";
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return valid_utf8(out + "\n");
}

}  // namespace tf::pipeline
