// Text <-> token ids for a model's vocabulary.
//
// Special tokens: by default, text that looks like a control token ("<|im_start|>", "<s>") is
// ordinary text and is tokenized as such — a document cannot inject chat structure. Only with
// parse_special (the CLI's --parse-special, and rendered chat templates) is such text turned
// into the control token. User-defined tokens are always matched, as llama.cpp does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/file.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"
#include "util/result.h"

namespace tf::tok {

class Tokenizer {
  public:
    static Result<Tokenizer> from_file(const gguf::File& file);
    static Result<Tokenizer> from_vocab(Vocab vocab);

    // add_special: BOS/EOS (CLS/SEP for BERT) as the vocabulary's add_*_token flags say.
    std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special = false) const;
    // parse_special, except inside the byte ranges [first, second) of `plain`: a rendered chat
    // whose message contents stay plain text even when they spell a control token.
    std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special,
                                const std::vector<std::pair<size_t, size_t>>& plain) const;

    // The bytes a token stands for. Control tokens give their text only when render_special.
    std::string token_to_piece(TokenId id, bool render_special = true) const;

    // Concatenated pieces; the leading space SentencePiece adds on encode is removed again.
    std::string decode(const std::vector<TokenId>& ids, bool render_special = true) const;

    const Vocab& vocab() const { return *vocab_; }

  private:
    void encode_fragment(std::string_view text, bool first_after_special, std::vector<TokenId>& out) const;

    std::shared_ptr<const Vocab> vocab_;
    std::shared_ptr<const PreTokenizer> pre_;
};

// Turns a stream of tokens into text that never ends in the middle of a UTF-8 character: bytes
// of an incomplete character are held back until the token that completes them arrives.
class StreamDecoder {
  public:
    // continues_text: the tokens follow a prompt (generation), so a SentencePiece leading space
    // is real text and kept; otherwise it is the one encode added and is removed.
    explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = true, bool continues_text = false)
        : tokenizer_(tokenizer), render_special_(render_special), first_(!continues_text) {}
    std::string push(TokenId id);  // the text that became complete
    std::string finish();          // whatever is left (an invalid tail is returned as is)

  private:
    const Tokenizer& tokenizer_;
    bool render_special_;
    bool first_;
    std::string pending_;
};

}  // namespace tf::tok
