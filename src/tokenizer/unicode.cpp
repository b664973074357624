#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>

namespace tf::tok {

uint32_t utf8_next(std::string_view s, size_t& pos) {
    const auto b0 = static_cast<uint8_t>(s[pos]);
    if (b0 < 0x80) {
        ++pos;
        return b0;
    }
    size_t len = utf8_len(b0);
    if (len == 1 || pos + len > s.size()) {
        ++pos;
        return kReplacementChar;
    }
    uint32_t cpt = len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (size_t i = 1; i < len; ++i) {
        const auto b = static_cast<uint8_t>(s[pos + i]);
        if ((b & 0xC0) != 0x80) {
            ++pos;
            return kReplacementChar;
        }
        cpt = (cpt << 6) | (b & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cpt < 0x80) || (len == 3 && cpt < 0x800) || (len == 4 && (cpt < 0x10000 || cpt > 0x10FFFF)) ||
        (cpt >= 0xD800 && cpt <= 0xDFFF)) {
        ++pos;
        return kReplacementChar;
    }
    pos += len;
    return cpt;
}

void utf8_append(std::string& out, uint32_t cpt) {
    if (cpt < 0x80) {
        out.push_back(static_cast<char>(cpt));
    } else if (cpt < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
        out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
    } else if (cpt < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
    }
}

std::string utf8_encode(uint32_t cpt) {
    std::string s;
    utf8_append(s, cpt);
    return s;
}

std::vector<uint32_t> utf8_to_cpts(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) out.push_back(utf8_next(s, pos));
    return out;
}

bool utf8_valid(std::string_view s) {
    for (size_t pos = 0; pos < s.size();) {
        size_t before = pos;
        uint32_t c = utf8_next(s, pos);
        if (c == kReplacementChar && !(pos - before == 3 && s.substr(before, 3) == "\xEF\xBF\xBD")) return false;
    }
    return true;
}

size_t utf8_incomplete_tail(std::string_view s) {
    // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
    for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
        const auto b = static_cast<uint8_t>(s[s.size() - back]);
        if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
        const size_t len = utf8_len(b);
        return len > back ? back : 0;
    }
    return 0;
}

bool is_whitespace(uint32_t c) {
    // The White_Space property (as llama.cpp's tokenizer uses it).
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static utf8proc_category_t category(uint32_t c) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool is_punctuation(uint32_t c) {
    const auto k = category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}
bool is_symbol(uint32_t c) {
    const auto k = category(c);
    return k >= UTF8PROC_CATEGORY_SM && k <= UTF8PROC_CATEGORY_SO;
}
bool is_control(uint32_t c) {
    const auto k = category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO ||
           k == UTF8PROC_CATEGORY_CS || k == UTF8PROC_CATEGORY_CN;
}
bool is_letter(uint32_t c) {
    const auto k = category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
bool is_mark(uint32_t c) {
    const auto k = category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

bool is_number(uint32_t c) {
    const auto k = category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

uint32_t to_lower(uint32_t c) {
    return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}

std::vector<uint32_t> nfd_base(const std::vector<uint32_t>& cpts) {
    std::vector<uint32_t> out;
    out.reserve(cpts.size());
    utf8proc_int32_t buf[32];
    for (uint32_t c : cpts) {
        int last_boundclass = 0;
        const utf8proc_ssize_t n =
            utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                    static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &last_boundclass);
        out.push_back(n <= 0 || n > 32 ? c : static_cast<uint32_t>(buf[0]));
    }
    return out;
}

namespace {

// GPT-2's table: printable Latin-1 bytes map to themselves, the other 68 to U+0100 onwards.
struct ByteMap {
    std::array<std::string, 256> to_unicode;
    std::array<int, 512> from_unicode;
    ByteMap() {
        from_unicode.fill(-1);
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const uint32_t cpt = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
            to_unicode[static_cast<size_t>(b)] = utf8_encode(cpt);
            from_unicode[cpt] = b;
        }
    }
};

const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) {
    return byte_map().to_unicode[byte];
}

int unicode_to_byte(uint32_t cpt) {
    return cpt < 512 ? byte_map().from_unicode[cpt] : -1;
}

}  // namespace tf::tok
