// Go's text/template language, the template syntax of Ollama's registries ({{ .System }},
// {{ range $i, $m := .Messages }}, {{- trim -}}), over JSON data. What Ollama's chat templates
// use is here: actions, if / else if / else, range (with index, element, break and continue),
// with, variables, pipelines, parenthesised calls, and the functions and, or, not, eq, ne, lt,
// le, gt, ge, len, index, slice, print, printf, println, plus Ollama's json. define, template and
// block are refused when the template is parsed, as is any undefined function (as Go does).
//
// Values print as Go prints them: a missing map key as "<no value>", a list of scalars as
// "[a b]". Objects print as JSON, because every struct Ollama hands its templates (Tool,
// ToolFunction, tool-call arguments) prints through a String method that marshals it.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/result.h"

namespace tf::chat::go {

struct Node;
using Value = nlohmann::ordered_json;
using Fields = std::map<std::string, std::pair<std::string, Value>>;

class Template {
  public:
    // Errors name the line: "line 3: unexpected {{ end }}".
    static Result<Template> parse(const std::string& source);

    // Objects are Go maps unless `fields` names a field: then they are structs, whose field Name
    // reads the JSON key fields[Name].first, or the zero value fields[Name].second when absent.
    Result<std::string> execute(const Value& data, const Fields* fields = nullptr) const;

    // The field and variable names the template mentions, lower-cased and sorted (Ollama's
    // Vars(): a template that never mentions "messages" is rendered turn by turn).
    std::vector<std::string> identifiers() const;

    // A copy that ends at the first mention of `field` (Ollama renders a conversation's last turn
    // with everything after {{ .Response }} removed, so the answer can follow).
    Template cut_after_field(const std::string& field) const;

    // Appends {{ .FIELD }} at the end.
    void append_field(const std::string& field);

  private:
    std::shared_ptr<const std::vector<std::shared_ptr<Node>>> root_;
};

// Go's json.Marshal of a value: compact, with <, > and & escaped as \u003c, \u003e, \u0026.
std::string marshal(const Value& v);

}  // namespace tf::chat::go
