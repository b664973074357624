// JSON Schema (draft 2020-12 and draft-07) to a GBNF grammar whose sentences are the JSON
// texts the schema accepts — within what a context-free grammar can say. Objects list their
// properties in the schema's order, required ones first (as llama.cpp, XGrammar and OpenAI's
// strict mode do); integer bounds are exact; number bounds, uniqueness and other semantic
// keywords are left to the validator (uniqueItems, minProperties, multipleOf beside bounds, …: accepted
// with a warning); multipleOf alone is spelled out (0.01: two fraction digits; 7: residues mod 7).
// An empty schema at the top means an object, as in llama.cpp (a document extraction wants one).
// An object lists only its schema's properties unless additionalProperties (or open_objects)
// allows more. A keyword we cannot honour is an error naming it, unless
// ignore_unsupported, which reports it through `warn` instead.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "util/result.h"

namespace tf::jsonschema {

// The notation values are written in. Gemma: the argument notation of Gemma 4's tool calls —
// JSON's numbers, booleans, null, arrays and objects, but object keys bare (`city:`) and strings
// raw between <|"|> marks (no escapes; a string cannot contain the mark itself). In strings
// with a pattern, a format or a length, '<' is not offered (the character rule is one class).
enum class Notation { Json, Gemma };

// A keyword the grammar does not hold exactly: where it stands in the schema (a JSON pointer)
// and whether the validator still checks it after generation (Validated) or nothing does
// (Ignored: an unsupported keyword under ignore_unsupported). A schema without gaps is exact:
// every sentence of its grammar is valid against it.
struct SchemaGap {
    enum class Kind { Validated, Ignored };
    std::string pointer;  // "" for the root
    std::string keyword;
    Kind kind = Kind::Validated;
    std::string why;  // one phrase, for messages
};

struct GrammarOptions {
    Notation notation = Notation::Json;
    // Compact: no whitespace between tokens (the default: fewer tokens, one canonical form).
    // Flexible: optional whitespace where JSON allows it (llama.cpp's "space" rule).
    bool flexible_whitespace = false;
    bool ignore_unsupported = false;
    // Where a schema lists properties but says nothing of additionalProperties: false (the
    // default) allows only the listed ones, as an extraction wants and OpenAI's strict mode
    // requires; true allows others too, as the JSON Schema specification reads the schema
    // (MaskBench: 77.0 % of real-world schemas pass closed, 81.0 % open).
    bool open_objects = false;
    std::function<void(const std::string&)> warn;
    // Receives each gap (see SchemaGap); `warn` also gets a sentence for it.
    std::function<void(const SchemaGap&)> gap;
};

// The schema is an ordered_json so that properties keep the order they were written in.
Result<std::string> schema_to_gbnf(const nlohmann::ordered_json& schema, const GrammarOptions& options = {});

}  // namespace tf::jsonschema
