#include "tokenizer/tokenizer.h"

#include <cstring>

#include "tokenizer/algorithms.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

Result<Tokenizer> Tokenizer::from_file(const gguf::File& file) {
    auto v = load_vocab(file);
    if (!v) return v.error();
    return from_vocab(std::move(v.value()));
}

Result<Tokenizer> Tokenizer::from_vocab(Vocab vocab) {
    Tokenizer t;
    if (vocab.type == VocabType::Bpe) {
        auto pre = PreTokenizer::create(vocab.pre);
        if (!pre) return pre.error();
        t.pre_ = std::move(pre.value());
    }
    t.vocab_ = std::make_shared<const Vocab>(std::move(vocab));
    return t;
}

void Tokenizer::encode_fragment(std::string_view text, bool first_after_special, std::vector<TokenId>& out) const {
    switch (vocab_->type) {
        case VocabType::Spm: {
            std::string escaped;
            escaped.reserve(text.size() + 3);
            if (vocab_->add_space_prefix && first_after_special) escaped = "\xe2\x96\x81";
            for (char c : text) {
                if (c == ' ') escaped += "\xe2\x96\x81";
                else escaped.push_back(c);
            }
            detail::spm_tokenize(*vocab_, escaped, out);
            break;
        }
        case VocabType::Bpe: detail::bpe_tokenize(*vocab_, *pre_, text, out); break;
        case VocabType::Wpm: detail::wpm_tokenize(*vocab_, text, out); break;
    }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    return encode(text, add_special, parse_special, {});
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special,
                                       const std::vector<std::pair<size_t, size_t>>& plain) const {
    const Vocab& v = *vocab_;
    auto in_plain = [&](size_t begin, size_t end) {
        for (const auto& [a, b] : plain) {
            if (begin < b && a < end) return true;
        }
        return false;
    };
    std::vector<TokenId> out;
    if (add_special && v.add_bos && v.bos != kNoToken) out.push_back(v.bos);

    // Split the text at special-token occurrences, longest token text first (as llama.cpp does).
    struct Fragment {
        std::string_view text;
        TokenId token;  // kNoToken for plain text
    };
    std::vector<Fragment> fragments = {{text, kNoToken}};
    if (text.empty()) fragments.clear();
    for (TokenId id : v.special_tokens) {
        const TokenData& td = v.tokens[static_cast<size_t>(id)];
        // Plain text makes user-defined tokens (added words), never control tokens nor a token
        // with a role: document text cannot end a generation or open a turn.
        const bool from_text = td.type == TokenType::UserDefined && !v.has_role(id);
        if (!parse_special && !from_text) continue;
        std::vector<Fragment> next;
        for (const Fragment& f : fragments) {
            if (f.token != kNoToken) {
                next.push_back(f);
                continue;
            }
            const size_t base = static_cast<size_t>(f.text.data() - text.data());
            size_t pos = 0, search = 0;
            while (true) {
                const size_t hit = f.text.find(td.text, search);
                if (hit == std::string_view::npos) break;
                if (!from_text && in_plain(base + hit, base + hit + td.text.size())) {
                    search = hit + 1;
                    continue;
                }
                if (hit > pos) next.push_back({f.text.substr(pos, hit - pos), kNoToken});
                next.push_back({{}, id});
                pos = search = hit + td.text.size();
            }
            if (pos < f.text.size()) next.push_back({f.text.substr(pos), kNoToken});
        }
        fragments.swap(next);
    }

    bool after_special = true;  // SentencePiece adds its leading space at the start and after specials
    for (const Fragment& f : fragments) {
        if (f.token != kNoToken) {
            out.push_back(f.token);
            after_special = true;
            continue;
        }
        encode_fragment(f.text, after_special, out);
        after_special = false;
    }
    if (add_special && v.add_eos && v.eos != kNoToken) out.push_back(v.eos);
    return out;
}

std::string Tokenizer::token_to_piece(TokenId id, bool render_special) const {
    const Vocab& v = *vocab_;
    if (id < 0 || static_cast<size_t>(id) >= v.size()) return {};
    const TokenData& t = v.tokens[static_cast<size_t>(id)];
    switch (t.type) {
        case TokenType::Control: return render_special ? t.text : std::string();
        case TokenType::Unknown: return v.type == VocabType::Spm ? "\xe2\x96\x85" : t.text;
        case TokenType::Byte: {
            unsigned value = 0;
            if (std::sscanf(t.text.c_str(), "<0x%02X>", &value) == 1) return std::string(1, static_cast<char>(value));
            return t.text;
        }
        default: break;
    }
    if (v.type == VocabType::Bpe) {
        if (t.type == TokenType::UserDefined) return t.text;
        std::string out;
        for (size_t pos = 0; pos < t.text.size();) {
            const uint32_t c = utf8_next(t.text, pos);
            const int b = unicode_to_byte(c);
            if (b >= 0) out.push_back(static_cast<char>(b));
            else utf8_append(out, c);
        }
        return out;
    }
    std::string out;
    for (size_t i = 0; i < t.text.size(); ++i) {
        if (t.text.compare(i, 3, "\xe2\x96\x81") == 0) {
            out.push_back(' ');
            i += 2;
        } else {
            out.push_back(t.text[i]);
        }
    }
    return out;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool render_special) const {
    std::string out;
    bool first = true;
    for (TokenId id : ids) {
        std::string piece = token_to_piece(id, render_special);
        if (first && (vocab_->add_space_prefix || vocab_->type == VocabType::Wpm) && !piece.empty() && piece[0] == ' ' &&
            !vocab_->is_special(id)) {
            piece.erase(0, 1);
        }
        if (!vocab_->is_special(id) || !piece.empty()) first = false;
        out += piece;
    }
    return out;
}

std::string StreamDecoder::push(TokenId id) {
    std::string piece = tokenizer_.token_to_piece(id, render_special_);
    const Vocab& v = tokenizer_.vocab();
    if (first_ && (v.add_space_prefix || v.type == VocabType::Wpm) && !piece.empty() && piece[0] == ' ' && !v.is_special(id)) {
        piece.erase(0, 1);
    }
    if (!v.is_special(id) || !piece.empty()) first_ = false;
    pending_ += piece;
    const size_t hold = utf8_incomplete_tail(pending_);
    std::string ready = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return ready;
}

std::string StreamDecoder::finish() {
    std::string rest;
    rest.swap(pending_);
    return rest;
}

}  // namespace tf::tok
