// libFuzzer target for structured output's parsers of outside input: GBNF grammars and JSON
// Schemas arrive from users and API clients. The first byte picks the parser (and a schema's
// options: whitespace, unsupported keywords, JSON or Gemma's notation); the rest is the
// text. A grammar that parses is then run over the input's own bytes, so the matcher sees
// arbitrary grammars and arbitrary text; and decoded under a token mask over a small
// vocabulary (bytes, JSON pieces, words), through the shared mask cache and the constraint the
// sampler uses, the input's bytes choosing among the allowed tokens — every chosen token must
// be one the grammar accepts. No crash, no hang, no runaway memory.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/matcher.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "tokenizer/tokenizer.h"

namespace {

// An SPM vocabulary: <unk> <s> </s>, the 256 byte tokens, then pieces JSON and text are made of.
std::shared_ptr<const tf::grammar::TokenTrie> vocabulary() {
    static const auto trie = [] {
        tf::tok::Vocab v;
        v.type = tf::tok::VocabType::Spm;
        v.model = "llama";
        auto add = [&](std::string text, tf::tok::TokenType type) {
            v.token_to_id[text] = static_cast<int32_t>(v.tokens.size());
            v.tokens.push_back({std::move(text), 0.0f, type});
        };
        add("<unk>", tf::tok::TokenType::Unknown);
        add("<s>", tf::tok::TokenType::Control);
        add("</s>", tf::tok::TokenType::Control);
        v.unk = 0, v.bos = 1, v.eos = 2;
        v.eog_tokens = {2};
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            v.byte_tokens[b] = static_cast<int32_t>(v.tokens.size());
            add(name, tf::tok::TokenType::Byte);
        }
        for (const char* piece : {"{",
                                  "}",
                                  "[",
                                  "]",
                                  "\"",
                                  ":",
                                  ",",
                                  "{\"",
                                  "\":",
                                  "\",",
                                  "\"}",
                                  "true",
                                  "false",
                                  "null",
                                  "0",
                                  "1",
                                  "12",
                                  "-",
                                  ".",
                                  "e",
                                  "\\u00",
                                  "\\",
                                  "\xe2\x96\x81",
                                  "\xe2\x96\x81the",
                                  "name",
                                  "id",
                                  "ab",
                                  "\n",
                                  "\t",
                                  "\xc3\xa9",
                                  "\xe6\x9d\xb1",
                                  "\xf0\x9f\x9a\x80",
                                  "aaaa",
                                  "2024-",
                                  "T12:",
                                  "Z"}) {
            add(piece, tf::tok::TokenType::Normal);
        }
        for (size_t i = 0; i < v.tokens.size(); ++i) {
            if (v.is_special(static_cast<int32_t>(i))) v.special_tokens.push_back(static_cast<int32_t>(i));
            v.max_token_len = std::max(v.max_token_len, v.tokens[i].text.size());
        }
        auto t = tf::tok::Tokenizer::from_vocab(std::move(v));
        if (!t.ok()) std::abort();
        return std::make_shared<const tf::grammar::TokenTrie>(t.value());
    }();
    return trie;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string gbnf = text;
    if (data[0] & 1) {
        auto schema = nlohmann::ordered_json::parse(text, nullptr, false);
        if (schema.is_discarded()) return 0;
        tf::jsonschema::GrammarOptions o;
        o.flexible_whitespace = data[0] & 2;
        o.ignore_unsupported = data[0] & 4;
        if (data[0] & 8) o.notation = tf::jsonschema::Notation::Gemma;
        auto g = tf::jsonschema::schema_to_gbnf(schema, o);
        if (!g.ok()) {
            if (g.error().message.empty()) std::abort();
            return 0;
        }
        gbnf = g.value();
    }
    tf::grammar::GbnfLimits limits;
    limits.max_rules = 20000;
    auto g = tf::grammar::parse_gbnf(gbnf, "root", limits);
    if (!g.ok()) {
        if (g.error().message.empty()) std::abort();
        return 0;
    }
    auto grammar = std::make_shared<const tf::grammar::Grammar>(std::move(g.value()));
    tf::grammar::Matcher m(grammar);
    for (size_t i = 0; i < text.size() && i < 256; ++i) {
        if (!m.accept(std::string_view(text.data() + i, 1))) break;
    }
    (void)m.can_end();

    // Decoding under the mask: a few steps, each choosing an allowed token with the input's bytes.
    const auto trie = vocabulary();
    auto cache = std::make_shared<tf::grammar::MaskCache>(grammar, trie);
    tf::grammar::GrammarConstraint c(cache, {2});
    tf::grammar::Matcher check(grammar);
    const int64_t n_vocab = static_cast<int64_t>(trie->n_tokens());
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    for (size_t step = 0; step < 24; ++step) {
        (void)c.forced_text(16);
        c.set_budget(step % 3 == 0 ? 8 : -1);
        std::fill(logits.begin(), logits.end(), 0.0f);
        c.apply(logits.data(), n_vocab);
        std::vector<int32_t> allowed;
        for (int64_t id = 0; id < n_vocab; ++id) {
            if (!std::isinf(logits[static_cast<size_t>(id)])) allowed.push_back(static_cast<int32_t>(id));
        }
        if (allowed.empty()) break;
        const int32_t token = allowed[static_cast<size_t>(data[(step + 1) % size]) % allowed.size()];
        if (token == 2) {
            if (!c.can_end()) std::abort();  // end of generation offered where the grammar cannot end
            break;
        }
        if (!check.accept(trie->text(token))) std::abort();  // the mask let through a token the grammar rejects
        (void)c.fits(token);
        c.accept(token);
        if (c.dead()) std::abort();
    }
    return 0;
}
