// The three tokenization algorithms, each applied to one fragment of plain text (special tokens
// have already been split out by the Tokenizer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace tf::tok::detail {

// SentencePiece BPE: merges adjacent pieces by highest vocabulary score; pieces that are not
// tokens fall back to byte tokens. `text` has its spaces already escaped as U+2581.
void spm_tokenize(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out);

// Byte-level BPE: pre-tokenize, map bytes to GPT-2's printable characters, merge by rank.
void bpe_tokenize(const Vocab& vocab, const PreTokenizer& pre, std::string_view text, std::vector<TokenId>& out);

// WordPiece (BERT): normalize (NFD, lowercase, split punctuation and CJK), then greedy
// longest-prefix matching per word.
void wpm_tokenize(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out);

}  // namespace tf::tok::detail
