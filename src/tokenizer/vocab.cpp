#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstdio>

#include "gguf/keys.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

namespace keys = gguf::keys;

const char* vocab_type_name(VocabType t) {
    switch (t) {
        case VocabType::Spm: return "SPM";
        case VocabType::Bpe: return "BPE";
        case VocabType::Wpm: return "WPM";
    }
    return "?";
}

TokenId Vocab::find(std::string_view text) const {
    auto it = token_to_id.find(std::string(text));
    return it == token_to_id.end() ? kNoToken : it->second;
}

int32_t Vocab::find_merge(const std::string& left, const std::string& right) const {
    std::string key;
    key.reserve(left.size() + right.size() + 1);
    key += left;
    key += ' ';
    key += right;
    auto it = merge_rank.find(key);
    return it == merge_rank.end() ? -1 : it->second;
}

bool Vocab::has_role(TokenId id) const { return id != kNoToken && std::binary_search(role_tokens.begin(), role_tokens.end(), id); }

bool Vocab::is_special(TokenId id) const {
    if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return false;
    const TokenType t = tokens[static_cast<size_t>(id)].type;
    return t == TokenType::Control || t == TokenType::Unknown || t == TokenType::UserDefined;
}

bool Vocab::is_eog(TokenId id) const {
    return id != kNoToken && std::find(eog_tokens.begin(), eog_tokens.end(), id) != eog_tokens.end();
}

Result<Vocab> load_vocab(const gguf::File& f) {
    Vocab v;
    const std::string where = f.label() + ": ";
    auto model = f.get_string(keys::kTokenizerModel);
    if (!model) return Error{where + "no tokenizer.ggml.model: the file has no vocabulary"};
    v.model = *model;
    if (v.model == "llama") v.type = VocabType::Spm;
    else if (v.model == "gpt2") v.type = VocabType::Bpe;
    else if (v.model == "bert") v.type = VocabType::Wpm;
    else return Error{where + "tokenizer model '" + v.model + "' is not supported (supported: llama/SPM, gpt2/BPE, bert/WPM)"};
    v.pre = f.get_string(keys::kTokenizerPre).value_or("default");

    const gguf::Value* toks = f.find(keys::kTokens);
    if (toks == nullptr || !toks->is_array() || toks->array_type() != gguf::ValueType::STRING) {
        return Error{where + "tokenizer.ggml.tokens is missing or not an array of strings"};
    }
    const auto& texts = toks->array_strings();
    if (texts.empty()) return Error{where + "tokenizer.ggml.tokens is empty"};
    if (texts.size() > (size_t(1) << 31) - 1) return Error{where + "tokenizer.ggml.tokens has too many entries"};
    const gguf::Value* scores = f.find(keys::kScores);
    if (scores != nullptr && (!scores->is_array() || scores->array_size() != texts.size())) {
        return Error{where + "tokenizer.ggml.scores has " + std::to_string(scores ? scores->array_size() : 0) +
                     " entries for " + std::to_string(texts.size()) + " tokens"};
    }
    const gguf::Value* types = f.find(keys::kTokenType);
    if (types != nullptr && (!types->is_array() || types->array_size() != texts.size())) {
        return Error{where + "tokenizer.ggml.token_type has " + std::to_string(types ? types->array_size() : 0) +
                     " entries for " + std::to_string(texts.size()) + " tokens"};
    }
    v.tokens.resize(texts.size());
    v.token_to_id.reserve(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        TokenData& t = v.tokens[i];
        t.text = texts[i];
        if (!utf8_valid(t.text)) {
            return Error{where + "tokenizer.ggml.tokens[" + std::to_string(i) + "] is not valid UTF-8"};
        }
        if (scores != nullptr) t.score = static_cast<float>(scores->array_double(i).value_or(0.0));
        if (types != nullptr) {
            const int64_t ty = types->array_int(i).value_or(1);
            if (ty < 0 || ty > 6) {
                return Error{where + "tokenizer.ggml.token_type[" + std::to_string(i) + "] is " + std::to_string(ty) +
                             ", not a token type (0..6)"};
            }
            t.type = static_cast<TokenType>(ty);
        }
        v.token_to_id.emplace(t.text, static_cast<TokenId>(i));  // the first of duplicate texts wins
        v.max_token_len = std::max(v.max_token_len, t.text.size());
    }

    if (v.type == VocabType::Bpe) {
        const gguf::Value* merges = f.find(keys::kMerges);
        if (merges == nullptr || !merges->is_array() || merges->array_type() != gguf::ValueType::STRING) {
            return Error{where + "a BPE vocabulary needs tokenizer.ggml.merges (missing or not strings)"};
        }
        const auto& list = merges->array_strings();
        v.merge_rank.reserve(list.size());
        for (size_t i = 0; i < list.size(); ++i) {
            const std::string& m = list[i];
            // The separator is the first space not at position 0 (a part may itself start with one).
            const size_t sp = m.find(' ', 1);
            if (sp == std::string::npos || sp + 1 >= m.size()) {
                return Error{where + "tokenizer.ggml.merges[" + std::to_string(i) + "] '" + m + "' is not \"left right\""};
            }
            v.merge_rank.emplace(m, static_cast<int32_t>(i));
        }
    }

    auto special = [&](std::string_view key, TokenId& out) -> Status {
        const gguf::Value* val = f.find(key);
        if (val == nullptr) return Status::success();
        auto id = val->as_int();
        if (!id) return Error{where + std::string(key) + " is not an integer"};
        if (*id < 0 || static_cast<size_t>(*id) >= v.tokens.size()) {
            // llama.cpp writes -1 (as u32 0xFFFFFFFF) for "none"; anything else out of range is an error.
            if (*id == 0xFFFFFFFFll || *id == -1) return Status::success();
            return Error{where + std::string(key) + " = " + std::to_string(*id) + " is outside the vocabulary of " +
                         std::to_string(v.tokens.size()) + " tokens"};
        }
        out = static_cast<TokenId>(*id);
        return Status::success();
    };
    for (auto [key, slot] : std::initializer_list<std::pair<std::string_view, TokenId*>>{
             {keys::kBosTokenId, &v.bos},
             {keys::kEosTokenId, &v.eos},
             {keys::kUnknownTokenId, &v.unk},
             {keys::kPaddingTokenId, &v.pad},
             {"tokenizer.ggml.eot_token_id", &v.eot},
             {"tokenizer.ggml.seperator_token_id", &v.sep},
             {"tokenizer.ggml.cls_token_id", &v.cls},
             {"tokenizer.ggml.mask_token_id", &v.mask}}) {
        if (Status st = special(key, *slot); !st) return st.error();
    }

    // Defaults as llama.cpp applies them per tokenizer family.
    if (v.type == VocabType::Spm) {
        v.add_bos = true;
        if (v.bos == kNoToken) v.bos = 1;
        if (v.eos == kNoToken) v.eos = 2;
        if (v.unk == kNoToken) v.unk = 0;
    } else if (v.type == VocabType::Wpm) {
        v.add_bos = true;
        v.add_eos = true;
        if (v.cls != kNoToken) v.bos = v.cls;
        if (v.sep != kNoToken) v.eos = v.sep;
        v.add_space_prefix = false;
    } else {
        v.add_space_prefix = false;
    }
    if (auto b = f.get_bool(keys::kAddBosToken)) v.add_bos = *b;
    if (auto b = f.get_bool(keys::kAddEosToken)) v.add_eos = *b;
    if (auto b = f.get_bool("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = *b;
    if (v.type == VocabType::Bpe) {
        v.ignore_merges = v.pre == "llama-bpe" || v.pre == "llama3" || v.pre == "llama-v3" || v.pre == "falcon3" ||
                          v.pre == "pixtral";
    }
    // An end-of-turn token when the metadata does not name one: the usual chat markers.
    if (v.eot == kNoToken) {
        for (const char* t : {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<|endoftext|>"}) {
            TokenId id = v.find(t);
            if (id != kNoToken && v.tokens[static_cast<size_t>(id)].type == TokenType::Control && id != v.eos) {
                v.eot = id;
                break;
            }
        }
    }

    // The end-of-generation set as llama.cpp builds it: EOS, EOT, EOM and control tokens with
    // the texts chat models end a turn with.
    TokenId eom = kNoToken;
    if (Status st = special("tokenizer.ggml.eom_token_id", eom); !st) return st.error();
    for (TokenId id : {v.eos, v.eot, eom}) {
        if (id != kNoToken) v.eog_tokens.push_back(id);
    }
    for (const char* t : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
                          "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"}) {
        const TokenId id = v.find(t);
        if (id != kNoToken && v.tokens[static_cast<size_t>(id)].type == TokenType::Control &&
            std::find(v.eog_tokens.begin(), v.eog_tokens.end(), id) == v.eog_tokens.end()) {
            v.eog_tokens.push_back(id);
        }
    }
    // Harmony (gpt-oss): <|end|> closes one message of a turn (the analysis before the answer),
    // <|return|> and <|call|> end the turn — so <|end|> is no end of generation (as llama.cpp does).
    {
        auto eog = [&](const char* t) {
            const TokenId id = v.find(t);
            return id != kNoToken && std::find(v.eog_tokens.begin(), v.eog_tokens.end(), id) != v.eog_tokens.end() ? id : kNoToken;
        };
        const TokenId end = eog("<|end|>"), ret = eog("<|return|>");
        if (end != kNoToken && ret != kNoToken && eog("<|call|>") != kNoToken) {
            v.eog_tokens.erase(std::find(v.eog_tokens.begin(), v.eog_tokens.end(), end));
            if (v.eot == end) v.eot = ret;
        }
    }

    for (TokenId id : {v.bos, v.eos, v.eot, v.unk, v.pad, v.sep, v.cls, v.mask}) {
        if (id != kNoToken) v.role_tokens.push_back(id);
    }
    v.role_tokens.insert(v.role_tokens.end(), v.eog_tokens.begin(), v.eog_tokens.end());
    for (const char* t : {"<s>", "</s>", "<unk>", "<pad>", "<mask>", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "<|eot_id|>", "<|im_start|>",
                          "<|im_end|>", "<|end|>", "<end_of_turn>", "<start_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "<|end_of_text|>",
                          "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<end_of_utterance>"}) {
        const TokenId id = v.find(t);
        if (id != kNoToken && v.tokens[static_cast<size_t>(id)].type != TokenType::Normal) v.role_tokens.push_back(id);
    }
    std::sort(v.role_tokens.begin(), v.role_tokens.end());
    v.role_tokens.erase(std::unique(v.role_tokens.begin(), v.role_tokens.end()), v.role_tokens.end());

    for (size_t i = 0; i < v.tokens.size(); ++i) {
        if (v.is_special(static_cast<TokenId>(i)) && !v.tokens[i].text.empty()) v.special_tokens.push_back(static_cast<TokenId>(i));
    }
    std::stable_sort(v.special_tokens.begin(), v.special_tokens.end(), [&](TokenId a, TokenId b) {
        return v.tokens[static_cast<size_t>(a)].text.size() > v.tokens[static_cast<size_t>(b)].text.size();
    });

    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        TokenId id = v.find(buf);
        if (id == kNoToken) id = v.find(std::string(1, static_cast<char>(b)));
        v.byte_tokens[b] = id;
    }
    return v;
}

}  // namespace tf::tok
