#include "pipeline/text_encoding.h"

#include <iconv.h>
#include <uchardet/uchardet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>

#include "tokenizer/unicode.h"

namespace tf::pipeline {

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool is_utf8(std::string_view s) {
    return tok::utf8_valid(s);
}

// WHATWG's encoding labels: what browsers read a page as, whatever it says.
std::string canonical(std::string_view label) {
    std::string u = upper(label);
    if (u == "ISO-8859-1" || u == "ISO8859-1" || u == "LATIN1" || u == "US-ASCII" || u == "ASCII" || u == "CP1252" ||
        u == "X-CP1252")
        return "WINDOWS-1252";
    if (u == "CP1250" || u == "X-CP1250") return "WINDOWS-1250";
    if (u == "CP1251" || u == "X-CP1251") return "WINDOWS-1251";
    if (u == "UTF8") return "UTF-8";
    return u;
}

// The whole of `bytes` in `from`, as UTF-8; an error naming the first byte it cannot read.
Result<std::string> convert(std::string_view bytes, const std::string& from) {
    iconv_t cd = iconv_open("UTF-8", from.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) return Error{"unknown encoding '" + from + "'"};
    std::unique_ptr<void, int (*)(iconv_t)> closer(cd, iconv_close);
    std::string out;
    out.resize(bytes.size() * 2 + 16);
    char* in = const_cast<char*>(bytes.data());
    size_t in_left = bytes.size();
    size_t done = 0;
    while (in_left > 0) {
        char* dst = out.data() + done;
        size_t out_left = out.size() - done;
        const size_t r = iconv(cd, &in, &in_left, &dst, &out_left);
        done = out.size() - out_left;
        if (r != static_cast<size_t>(-1)) break;
        if (errno == E2BIG) {
            out.resize(out.size() * 2);
            continue;
        }
        const size_t at = bytes.size() - in_left;
        return Error{"not valid " + from + " at byte " + std::to_string(at) + (errno == EINVAL ? " (cut short)" : "")};
    }
    out.resize(done);
    // glibc's iconv passes UTF-8's old five- and six-byte forms and code points past U+10FFFF
    // through from "UTF-8": what comes out must be UTF-8 as Unicode defines it.
    if (!is_utf8(out)) return Error{"not valid " + from + " (a code point beyond Unicode)"};
    return out;
}

std::string detect(std::string_view bytes) {
    uchardet_t ud = uchardet_new();
    if (!ud) return "";
    uchardet_handle_data(ud, bytes.data(), bytes.size());
    uchardet_data_end(ud);
    std::string found = uchardet_get_charset(ud);
    uchardet_delete(ud);
    return found;
}

}  // namespace

Result<DecodedText> decode_text(std::string_view bytes, std::string_view declared) {
    static const struct {
        std::string_view bom;
        const char* encoding;
    } kBoms[] = {{"\xEF\xBB\xBF", "UTF-8"},
                 {std::string_view("\xFF\xFE\x00\x00", 4), "UTF-32LE"},
                 {std::string_view("\x00\x00\xFE\xFF", 4), "UTF-32BE"},
                 {"\xFF\xFE", "UTF-16LE"},
                 {"\xFE\xFF", "UTF-16BE"}};
    for (const auto& b : kBoms) {
        if (bytes.substr(0, b.bom.size()) != b.bom) continue;
        auto text = convert(bytes.substr(b.bom.size()), b.encoding);
        if (!text)
            return Error{"the byte-order mark says " + std::string(b.encoding) + ", but the text is " +
                         text.error().message};
        return DecodedText{std::move(*text), b.encoding, "bom"};
    }
    if (!declared.empty()) {
        const std::string enc = canonical(declared);
        // A page that declares UTF-8 but is not falls through to detection.
        if (enc != "UTF-8" || is_utf8(bytes)) {
            if (auto text = convert(bytes, enc)) return DecodedText{std::move(*text), enc, "declared"};
        }
    }
    if (is_utf8(bytes)) return DecodedText{std::string(bytes), "UTF-8", "valid"};
    std::string found = canonical(detect(bytes));
    if (!found.empty() && found != "UTF-8") {
        if (auto text = convert(bytes, found)) return DecodedText{std::move(*text), found, "detected"};
    }
    // Western European text the detector could not place: Windows-1252 reads all but five bytes.
    if (auto text = convert(bytes, "WINDOWS-1252")) return DecodedText{std::move(*text), "WINDOWS-1252", "detected"};
    return Error{"the text is not UTF-8 and its encoding could not be detected" +
                 (found.empty() ? std::string() : " (" + found + " did not decode it)")};
}

std::string html_declared_charset(std::string_view html) {
    std::string head(html.substr(0, 1024));
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (size_t at = head.find("<meta"); at != std::string::npos; at = head.find("<meta", at + 5)) {
        const size_t end = head.find('>', at);
        const std::string tag = head.substr(at, end == std::string::npos ? std::string::npos : end - at);
        const size_t cs = tag.find("charset");
        if (cs == std::string::npos) continue;
        size_t i = cs + 7;
        while (i < tag.size() && (tag[i] == ' ' || tag[i] == '\t')) ++i;
        if (i >= tag.size() || tag[i] != '=') continue;
        ++i;
        while (i < tag.size() && (tag[i] == ' ' || tag[i] == '"' || tag[i] == '\'')) ++i;
        std::string name;
        while (i < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[i])) ||
                                  std::string_view("-_.:").find(tag[i]) != std::string_view::npos))
            name += tag[i++];
        if (!name.empty()) return name;
    }
    return "";
}

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80                      ? 1
                  : (c >> 5) == 6 && c >= 0xC2  ? 2
                  : (c >> 4) == 14              ? 3
                  : (c >> 3) == 30 && c <= 0xF4 ? 4
                                                : 0;
        bool ok = len > 0 && i + static_cast<size_t>(len) <= s.size();
        for (int k = 1; ok && k < len; ++k)
            ok = (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0xC0) == 0x80;
        if (ok && len == 3) {
            const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
        }
        if (ok && len == 4) {
            const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (!ok) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        if (c == 0 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r')) {
            ++i;  // control characters carry no text
            continue;
        }
        out.append(s.substr(i, static_cast<size_t>(len)));
        i += static_cast<size_t>(len);
    }
    return out;
}

}  // namespace tf::pipeline
