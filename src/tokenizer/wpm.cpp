#include "tokenizer/algorithms.h"
#include "tokenizer/unicode.h"

namespace tf::tok::detail {

namespace {

bool is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BERT's basic tokenizer as llama.cpp runs it: each character's decomposition base (nfd_base),
// lowercase, every mark dropped (accents, variation selectors, a keycap's enclosing mark),
// controls dropped, split on whitespace, and every punctuation mark, ASCII symbol and CJK
// character a word of its own.
std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> words(1);
    for (uint32_t c : nfd_base(utf8_to_cpts(text))) {
        if (is_whitespace(c)) {
            if (!words.back().empty()) words.emplace_back();
            continue;
        }
        if (c == 0 || c == kReplacementChar || is_control(c) || is_mark(c)) continue;
        const std::string s = utf8_encode(to_lower(c));
        if (is_punctuation(c) || (c < 0x7F && is_symbol(c)) || is_cjk(c)) {
            if (!words.back().empty()) words.emplace_back();
            words.back() = s;
            words.emplace_back();
        } else {
            words.back() += s;
        }
    }
    if (words.back().empty()) words.pop_back();
    return words;
}

}  // namespace

void wpm_tokenize(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) {
    for (const std::string& w : words_of(text)) {
        const std::string word = "\xe2\x96\x81" + w;  // word-initial pieces carry U+2581 in GGUF BERT vocabularies
        const size_t n = word.size();
        const size_t start_out = out.size();
        size_t i = 0;
        bool ok = true;
        while (i < n) {
            bool matched = false;
            for (size_t j = std::min(n, i + vocab.max_token_len + 1); j > i; --j) {
                const TokenId id = vocab.find(std::string_view(word).substr(i, j - i));
                if (id != kNoToken) {
                    out.push_back(id);
                    i = j;
                    matched = true;
                    break;
                }
            }
            if (!matched) {
                ok = false;
                break;
            }
        }
        if (!ok) {
            out.resize(start_out);
            out.push_back(vocab.unk);
        }
    }
}

}  // namespace tf::tok::detail
