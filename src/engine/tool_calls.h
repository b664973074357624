// Tool calling: the syntax a model family writes tool calls in, a grammar that forces a valid
// call (each tool's arguments constrained by its parameter schema), and parsing the model's
// text back into structured calls.
//   hermes  (Qwen 2.5/3, Hermes, most ChatML models): <tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>
//   llama3  (Llama 3.1/3.2): {"name": …, "parameters": {…}}
//   mistral (Mistral, Nemo): [TOOL_CALLS][{"name": …, "arguments": {…}}, …]
//   phi4    (Phi-4-mini): functools[{"name": …, "arguments": {…}}, …] — its template lists the
//           tools inside the system message (<|tool|>…<|/tool|>), not from a `tools` variable
//   gemma   (Gemma 4): <|tool_call>call:NAME{key:VALUE,…}<tool_call|>, one block per call, the
//           arguments in Gemma's notation (bare keys, strings raw between <|"|> marks)
//   harmony (gpt-oss): a commentary-channel message addressed to the tool — as its template
//           renders it ` to=functions.NAME<|channel|>commentary json<|message|>{…}<|call|>`, as the
//           model often writes it `<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{…}<|call|>`;
//           one call per message (<|call|> ends the turn); the answer proper is the final channel
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/chat/chat_template.h"
#include "util/result.h"

namespace tf::engine {

enum class ToolSyntax { Hermes, Llama3, Mistral, Phi4, Gemma, Harmony };

// From the model's chat template (Hermes when nothing identifies the family).
ToolSyntax detect_tool_syntax(const std::string& chat_template_source);
const char* tool_syntax_name(ToolSyntax s);

struct ToolCall {
    std::string name;
    nlohmann::ordered_json arguments;  // an object
};

// A GBNF grammar accepting one or more calls (`parallel`) of the given OpenAI-style tools
// ([{"type":"function","function":{"name","parameters"}}]), or of the one named `only`.
Result<std::string> tool_call_grammar(ToolSyntax syntax, const nlohmann::ordered_json& tools, bool parallel,
                                      const std::string& only = "");

// The text each call of this syntax starts with (what switches tool_choice "auto" from free text
// to the call grammar).
std::vector<std::string> tool_call_triggers(ToolSyntax syntax);

// Puts the request's tools where this family's template reads them: for Phi-4, as the JSON text
// of the system message's "tools" field (a system message is added when there is none); the
// other families read the `tools` variable and nothing changes.
void attach_tools(ToolSyntax syntax, chat::ChatRequest& request);

// The calls in a model's answer and the text around them. Malformed calls stay text.
struct ParsedAnswer {
    std::string content;
    std::vector<ToolCall> calls;
    std::string reasoning;  // harmony's analysis channel (the model's reasoning, not its answer)
};
ParsedAnswer parse_tool_calls(ToolSyntax syntax, const std::string& text);

// A value in Gemma's argument notation ({city:<|"|>Oslo<|"|>,days:3}) as JSON; an error names
// the byte offset where the text stops making sense.
Result<nlohmann::ordered_json> parse_gemma_value(std::string_view text);

}  // namespace tf::engine
