// What an answer must satisfy — a JSON Schema, a GBNF grammar, or a request's tools — compiled
// once into the grammar that constrains decoding, the validator that judges the finished answer
// and the schema's gaps (keywords the grammar does not hold exactly). Every command and API
// builds structured output here, so one rule holds everywhere by construction: an answer is
// returned as valid only when check() finds nothing wrong; otherwise the caller reports the
// first violation (run: exit 1; server: finish_reason "schema_violation"; pipeline: an error).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tool_calls.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "sampling/jsonschema/validator.h"
#include "util/result.h"

namespace tf::engine {

struct ContractOptions {
    bool flexible_whitespace = false;  // optional whitespace between JSON tokens
    bool open_objects = false;         // jsonschema::GrammarOptions::open_objects
    // An unsupported keyword (not, if, patternProperties, …) is a warning and an Ignored gap,
    // not an error. Never with strict.
    bool ignore_unsupported = false;
    // Accept only a schema the grammar alone guarantees (OpenAI's `strict: true`): any gap is
    // an error naming its keyword and JSON pointer.
    bool strict = false;
    std::function<void(const std::string&)> warn;
};

// Where the constraint's masks are computed: the model's vocabulary as a trie (shared: ~130 ms
// to build on a 128k vocabulary) and its end-of-generation tokens.
struct Vocabulary {
    std::shared_ptr<const grammar::TokenTrie> trie;
    std::vector<int32_t> eog;
};

// How tools are offered (the request's tool_choice).
struct ToolChoice {
    ToolSyntax syntax = ToolSyntax::Hermes;
    bool forced = false;   // "required" or a named function: the answer must be calls
    bool parallel = true;  // several calls allowed
    std::string only;      // a named function
};

class OutputContract {
  public:
    enum class Kind { Grammar, JsonSchema, Tools };

    static Result<std::shared_ptr<const OutputContract>> json_schema(const nlohmann::ordered_json& schema,
                                                                     const ContractOptions& options,
                                                                     const Vocabulary& vocab);
    static Result<std::shared_ptr<const OutputContract>> gbnf(const std::string& text, const Vocabulary& vocab);
    // Each tool's `parameters` under the rules of json_schema (a tool's own `strict: true` too);
    // an error names the tool.
    static Result<std::shared_ptr<const OutputContract>> tools(const nlohmann::ordered_json& tools,
                                                               const ToolChoice& choice, const ContractOptions& options,
                                                               const Vocabulary& vocab);

    // A fresh constraint for one answer; its masks are shared with every other answer under
    // this contract.
    std::shared_ptr<sampling::Constraint> constraint() const;
    // What is wrong with a finished answer, the first violation first; empty when it satisfies
    // the contract. JSON answers are judged as a draft 2020-12 validator with format assertion
    // judges them; a grammar answer by the grammar.
    std::vector<jsonschema::ValidationError> check(std::string_view answer) const;

    Kind kind() const { return kind_; }
    // Keywords the grammar does not hold exactly (the validator checks them); empty when the
    // grammar alone guarantees every answer.
    const std::vector<jsonschema::SchemaGap>& gaps() const { return gaps_; }
    const std::string& grammar_text() const { return gbnf_; }
    const std::shared_ptr<grammar::MaskCache>& masks() const { return masks_; }

  private:
    // The grammar and its masks (precomputed) over the vocabulary.
    Status set_grammar(std::string text, const Vocabulary& vocab);

    Kind kind_ = Kind::Grammar;
    std::string gbnf_;
    std::shared_ptr<grammar::MaskCache> masks_;
    std::vector<int32_t> eog_;
    std::vector<jsonschema::SchemaGap> gaps_;
    std::shared_ptr<const jsonschema::Validator> validator_;  // JsonSchema
    // Tools: each tool's name and argument validator, the syntax, and how calls are offered.
    std::vector<std::pair<std::string, std::shared_ptr<const jsonschema::Validator>>> tools_;
    ToolChoice choice_;
};

// "/pointer keyword: message" of a violation, for messages.
std::string describe(const jsonschema::ValidationError& e);

}  // namespace tf::engine
