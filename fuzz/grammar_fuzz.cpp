// libFuzzer target for structured output's parsers of outside input: GBNF grammars and JSON
// Schemas arrive from users and API clients. The first byte picks the parser (and a schema's
// options: whitespace, unsupported keywords, JSON or Gemma's notation); the rest is the
// text. A grammar that parses is then run over the input's own bytes, so the matcher sees
// arbitrary grammars and arbitrary text. No crash, no hang, no runaway memory.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/matcher.h"
#include "sampling/jsonschema/to_grammar.h"

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
    tf::grammar::Matcher m(std::make_shared<const tf::grammar::Grammar>(std::move(g.value())));
    for (size_t i = 0; i < text.size() && i < 256; ++i) {
        if (!m.accept(std::string_view(text.data() + i, 1))) break;
    }
    (void)m.can_end();
    return 0;
}
