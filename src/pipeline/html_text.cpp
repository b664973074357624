// HTML → text: visible text only (no script, style, head), block elements on their own lines,
// headings as "#", list items as "- ", table cells tab-separated, entities decoded. Tolerant of
// any input: unclosed tags and stray '<' are text or skipped, never an error.
#include <cctype>
#include <map>

#include "pipeline/text_encoding.h"

namespace tf::pipeline {

namespace {

std::string utf8(uint32_t c) {
    std::string s;
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
    if (c < 0x80)
        s += static_cast<char>(c);
    else if (c < 0x800)
        s += static_cast<char>(0xC0 | (c >> 6)), s += static_cast<char>(0x80 | (c & 0x3F));
    else if (c < 0x10000)
        s += static_cast<char>(0xE0 | (c >> 12)), s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
            s += static_cast<char>(0x80 | (c & 0x3F));
    else
        s += static_cast<char>(0xF0 | (c >> 18)), s += static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
            s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), s += static_cast<char>(0x80 | (c & 0x3F));
    return s;
}

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

}  // namespace

std::string html_to_text(std::string_view h) {
    static const std::map<std::string, std::string> entities = {
        {"amp", "&"},   {"lt", "<"},     {"gt", ">"},    {"quot", "\""}, {"apos", "'"},   {"nbsp", " "},
        {"copy", "©"},  {"reg", "®"},    {"mdash", "—"}, {"ndash", "–"}, {"hellip", "…"}, {"laquo", "«"},
        {"raquo", "»"}, {"euro", "€"},   {"rsquo", "’"}, {"lsquo", "‘"}, {"rdquo", "”"},  {"ldquo", "“"},
        {"bull", "•"},  {"middot", "·"}, {"times", "×"}, {"deg", "°"}};
    std::string out;
    bool space = false;  // a pending collapsed space
    int skip_depth = 0;  // inside script/style/head
    std::string skip_tag;
    bool pre = false;
    auto newline = [&](int n) {
        while (!out.empty() && out.back() == ' ') out.pop_back();
        int have = 0;
        for (size_t i = out.size(); i > 0 && out[i - 1] == '\n'; --i) ++have;
        if (out.empty()) return;
        for (int i = have; i < n; ++i) out += '\n';
        space = false;
    };
    auto emit = [&](const std::string& s) {
        if (skip_depth > 0) return;
        for (char c : s) {
            if (!pre && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')) {
                space = true;
                continue;
            }
            if (space && !out.empty() && out.back() != '\n' && out.back() != '\t') out += ' ';
            space = false;
            out += c;
        }
    };
    size_t i = 0;
    while (i < h.size()) {
        const char c = h[i];
        if (c == '<') {
            if (h.compare(i, 4, "<!--") == 0) {
                const size_t end = h.find("-->", i + 4);
                i = end == std::string_view::npos ? h.size() : end + 3;
                continue;
            }
            const size_t end = h.find('>', i + 1);
            if (end == std::string_view::npos) {
                emit(std::string(h.substr(i)));
                break;
            }
            std::string_view tag = h.substr(i + 1, end - i - 1);
            i = end + 1;
            const bool closing = !tag.empty() && tag[0] == '/';
            if (closing) tag.remove_prefix(1);
            size_t n = 0;
            while (n < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[n])) != 0)) ++n;
            const std::string name = lower(tag.substr(0, n));
            if (name.empty()) continue;  // <!DOCTYPE>, <?xml?> and the like
            if (name == "script" || name == "style" || name == "head" || name == "noscript" || name == "template") {
                if (!closing) {
                    if (skip_depth == 0) skip_tag = name;
                    if (name == skip_tag) ++skip_depth;
                } else if (name == skip_tag && skip_depth > 0) {
                    --skip_depth;
                }
                continue;
            }
            if (skip_depth > 0) continue;
            if (name == "pre") pre = !closing;
            if (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6') {
                newline(2);
                if (!closing) out += std::string(static_cast<size_t>(name[1] - '0'), '#') + " ";
                continue;
            }
            if (name == "li") {
                newline(1);
                if (!closing) out += "- ";
                continue;
            }
            if (name == "br") {
                newline(1);
                continue;
            }
            if (name == "td" || name == "th") {
                if (closing) {
                    out += '\t';
                    space = false;
                }
                continue;
            }
            if (name == "tr") {
                if (closing) {
                    while (!out.empty() && out.back() == '\t') out.pop_back();
                }
                newline(1);
                continue;
            }
            static const char* blocks[] = {"p",    "div",   "section",    "article", "header", "footer", "ul",
                                           "ol",   "table", "blockquote", "dl",      "dt",     "dd",     "nav",
                                           "main", "aside", "figure",     "pre",     "hr",     "title",  "body"};
            for (const char* b : blocks) {
                if (name == b) {
                    newline(2);
                    break;
                }
            }
            continue;
        }
        if (c == '&') {
            const size_t semi = h.find(';', i + 1);
            if (semi != std::string_view::npos && semi - i <= 10) {
                const std::string ent(h.substr(i + 1, semi - i - 1));
                std::string rep;
                if (!ent.empty() && ent[0] == '#') {
                    try {
                        const unsigned long v = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X')
                                                    ? std::stoul(ent.substr(2), nullptr, 16)
                                                    : std::stoul(ent.substr(1));
                        rep = utf8(static_cast<uint32_t>(std::min<unsigned long>(v, 0x110000)));
                    } catch (const std::exception&) {
                    }
                } else if (auto it = entities.find(ent); it != entities.end()) {
                    rep = it->second;
                }
                if (!rep.empty()) {
                    emit(rep);
                    i = semi + 1;
                    continue;
                }
            }
        }
        emit(std::string(1, c));
        ++i;
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return valid_utf8(out);
}

}  // namespace tf::pipeline
