// A conversation rendered the way Ollama renders a registry's template layer (Go text/template),
// for models whose GGUF carries no chat template of its own. Ollama's rules, kept here:
// - consecutive messages of one role are merged with a blank line (tool results are not), and
//   every system message is also joined into .System;
// - a template that mentions .Messages gets the whole conversation (.Messages, .Tools, .System);
//   one that does not is rendered turn by turn with .System, .Prompt and .Response, and the last
//   turn stops right after {{ .Response }} so the model's answer follows;
// - a template mentioning neither .Messages nor .Response gets {{ .Response }} appended.
// Messages and tools are the OpenAI shapes the engine uses elsewhere, read into Ollama's structs
// (api.Message, api.Tool): fields by their Go names, tool properties in Go's field order.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tokenizer/chat/go_template.h"
#include "util/result.h"

namespace tf::chat {

// Whether a template's source is Go text/template rather than Jinja: Go reads fields with a
// leading dot ({{ .Prompt }}, {{- range .Messages }}), which Jinja never does.
bool is_go_template(const std::string& source);

class OllamaTemplate {
  public:
    static Result<OllamaTemplate> parse(const std::string& source);

    // think: the request's thinking flag; think_set: whether the request set it at all.
    Result<std::string> apply(const nlohmann::ordered_json& messages,
                              const std::optional<nlohmann::ordered_json>& tools, bool think = false,
                              bool think_set = false) const;

  private:
    go::Template template_;
    bool whole_conversation_ = false;
};

}  // namespace tf::chat
