// A model's vocabulary, read and validated from GGUF metadata (tokenizer.ggml.*).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gguf/file.h"
#include "util/result.h"

namespace tf::tok {

using TokenId = int32_t;
constexpr TokenId kNoToken = -1;

enum class VocabType { Spm, Bpe, Wpm };  // SentencePiece, byte-level BPE, WordPiece
const char* vocab_type_name(VocabType t);

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct TokenData {
    std::string text;
    float score = 0.0f;
    TokenType type = TokenType::Normal;
};

struct Vocab {
    VocabType type = VocabType::Spm;
    std::string model;  // tokenizer.ggml.model as written
    std::string pre;    // tokenizer.ggml.pre ("default" when absent)
    std::vector<TokenData> tokens;
    std::unordered_map<std::string, TokenId> token_to_id;
    std::unordered_map<std::string, int32_t> merge_rank;  // "left right" -> rank (BPE)

    TokenId bos = kNoToken, eos = kNoToken, eot = kNoToken, unk = kNoToken, pad = kNoToken, sep = kNoToken;
    TokenId cls = kNoToken, mask = kNoToken;
    bool add_bos = false, add_eos = false;
    bool add_space_prefix = true;  // SPM: a leading space before the text
    bool ignore_merges = false;    // BPE: a pre-token that is itself a token is kept whole (Llama 3)

    std::vector<TokenId> special_tokens;  // control, user-defined and unknown tokens, longest text first
    std::vector<TokenId> eog_tokens;      // every token that ends a generation
    TokenId byte_tokens[256];             // SPM byte fallback: <0xXX>
    size_t max_token_len = 0;

    size_t size() const { return tokens.size(); }
    TokenId find(std::string_view text) const;
    int32_t find_merge(const std::string& left, const std::string& right) const;
    bool is_special(TokenId id) const;  // control, unknown, user-defined
    bool is_eog(TokenId id) const;      // ends a generation: EOS, EOT, EOM and the known chat end markers
    // A token with a role — BOS, EOS, an end of generation, UNK, PAD, SEP, CLS, MASK, or the text
    // of one of those markers (<s>, </s>, <|im_end|>, [SEP], …) — never made from plain text,
    // even when the vocabulary files it as user-defined (Phi-3's </s>: the Llama EOS it inherits).
    bool has_role(TokenId id) const;
    std::vector<TokenId> role_tokens;  // sorted; see has_role
};

// Errors name the key and the entry (a missing merges list, an id past the vocabulary, …).
Result<Vocab> load_vocab(const gguf::File& file);

}  // namespace tf::tok
