// UTF-8 and Unicode properties the tokenizers need (categories, case, NFD via utf8proc), and
// GPT-2's byte <-> printable-character mapping used by byte-level BPE vocabularies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tf::tok {

constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence a lead byte announces (1 for continuation/invalid bytes).
inline size_t utf8_len(uint8_t lead) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[lead >> 4];
}

// Decodes one code point at pos and advances; an invalid or truncated sequence yields
// kReplacementChar and advances one byte.
uint32_t utf8_next(std::string_view s, size_t& pos);
std::string utf8_encode(uint32_t cpt);
void utf8_append(std::string& out, uint32_t cpt);
std::vector<uint32_t> utf8_to_cpts(std::string_view s);
bool utf8_valid(std::string_view s);
// Number of bytes at the end of s that form an incomplete (but so far valid) UTF-8 sequence.
size_t utf8_incomplete_tail(std::string_view s);

bool is_whitespace(uint32_t cpt);
bool is_punctuation(uint32_t cpt);  // Unicode P*
bool is_symbol(uint32_t cpt);       // Unicode S*
bool is_control(uint32_t cpt);      // Unicode Cc/Cf… as BERT's basic tokenizer treats them
bool is_letter(uint32_t cpt);
bool is_mark(uint32_t cpt);  // Unicode M* (Mn, Mc, Me)
bool is_number(uint32_t cpt);
uint32_t to_lower(uint32_t cpt);
// Each code point replaced by the first of its canonical decomposition (é → e, 한 → ᄒ): one out
// per one in, as llama.cpp's WordPiece "NFD" table does (it keeps a Hangul syllable's leading
// consonant only), so BERT vocabularies split text exactly as llama.cpp does.
std::vector<uint32_t> nfd_base(const std::vector<uint32_t>& cpts);

// GPT-2 byte-level BPE: each byte is shown as a printable code point.
const std::string& byte_to_unicode(uint8_t byte);  // UTF-8 of the mapped code point
int unicode_to_byte(uint32_t cpt);                 // -1 when the code point is not a mapped byte

}  // namespace tf::tok
