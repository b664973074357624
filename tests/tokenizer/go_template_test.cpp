// Go's text/template as Ollama's registry templates use it (tokenizer/chat/go_template.h), and
// Ollama's rules for rendering a conversation with one (ollama_template.h). The language cases'
// expected outputs were produced by Go 1.19's text/template (missingkey=zero, Ollama's json
// function) on the same data; the conversation cases follow Ollama's template.Execute.
#include "tokenizer/chat/go_template.h"

#include <gtest/gtest.h>

#include "gguf/writer.h"
#include "tokenizer/chat/chat_template.h"
#include "tokenizer/chat/ollama_template.h"

namespace {

using nlohmann::ordered_json;
using tf::chat::OllamaTemplate;
namespace go = tf::chat::go;

const char* kData = R"({"Name": "Ada", "Empty": "", "N": 3, "F": 0.25, "Big": 1e21, "L": ["x", "y", "z"],
  "Nums": [1, 2, 3], "M": {"a": 1, "b": "two"},
  "Msgs": [{"Content": "Be brief.", "Role": "system"}, {"Content": "Hi <b>&</b>", "Role": "user"},
           {"Content": "Hello.", "Role": "assistant"}], "Obj": {"k": "v<"}, "T": true})";

struct Case {
    const char* source;
    const char* expected;
};

// Rendered by Go's text/template with kData (JSON numbers without a fraction as Go ints).
const Case kCases[] = {
    {R"T({{ .Name }} has {{ .N }} items, f={{ .F }}, big={{ .Big }}, missing={{ .Missing }})T",
     R"T(Ada has 3 items, f=0.25, big=1e+21, missing=<no value>)T"},
    {R"T({{- " a " -}}  
  {{- .Name -}}  
  b)T",
     R"T( a Adab)T"},
    {R"T({{ if .Empty }}empty{{ else if eq .N 2 3 }}two-or-three{{ else }}other{{ end }})T", R"T(two-or-three)T"},
    {R"T({{ range $i, $m := .Msgs }}{{ if $i }}, {{ end }}{{ $i }}:{{ .Role }}{{ end }})T",
     R"T(0:system, 1:user, 2:assistant)T"},
    {R"T({{ range .Nums }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 3 }}{{ break }}{{ end }}[{{ . }}]{{ end }}|{{ range .Missing }}x{{ else }}none{{ end }})T",
     R"T([1]|none)T"},
    {R"T({{ with .M }}{{ .a }}-{{ .b }}{{ end }}{{ with .Empty }}no{{ else }}/else{{ end }})T", R"T(1-two/else)T"},
    {R"T({{ $x := 1 }}{{ range .Nums }}{{ $x = . }}{{ end }}{{ $x }}{{ $y := "out" }}{{ if .T }}{{ $y := "in" }}{{ $y }}{{ end }}{{ $y }})T",
     R"T(3inout)T"},
    {R"T({{ and .Name .Empty "c" }}|{{ or .Empty 0 "z" }}|{{ not .T }}|{{ and 1 2 }})T", R"T(|z|false|2)T"},
    {R"T({{ len .L }} {{ len .Name }} {{ index .L 1 }} {{ index .M "b" }} {{ slice .L 1 }} {{ slice .Name 1 2 }})T",
     R"T(3 3 y two [y z] d)T"},
    {R"T({{ printf "%s is %d (%q) %v%%" .Name .N "q" .L }}|{{ print 1 2 "a" 3 }}|{{ print .L }})T",
     R"T(Ada is 3 ("q") [x y z]%|1 2a3|[x y z])T"},
    {R"T({{ json .Obj }} {{ json .Msgs }} {{ json .Name }})T",
     R"T({"k":"v\u003c"} [{"Content":"Be brief.","Role":"system"},{"Content":"Hi \u003cb\u003e\u0026\u003c/b\u003e","Role":"user"},{"Content":"Hello.","Role":"assistant"}] "Ada")T"},
    {R"T({{ (index .Msgs 1).Content }} {{ $.Name }}{{ range .Msgs }}{{ $.N }}{{ end }})T", R"T(Hi <b>&</b> Ada333)T"},
    {R"T({{/* a comment */}}A{{- /* trimmed */ -}} B)T", R"T(AB)T"},
    {R"T({{ .Name | printf "<%s>" }} {{ `raw\n` }} {{ "esc\t\u00e9" }} {{ lt 1 2 }} {{ ge "b" "a" }} {{ ne .N 3 }})T",
     R"T(<Ada> raw\n esc	é true true false)T"},
    {R"T({{ range $k, $v := .M }}{{ $k }}={{ $v }};{{ end }} {{ .L }})T", R"T(a=1;b=two; [x y z])T"},
    {R"T({{ $last := eq (len (slice .Msgs 1)) 2 }}{{ $last }} {{ range $i, $_ := .Msgs }}{{ $i }}{{ end }})T",
     R"T(true 012)T"},
};

TEST(GoTemplate, renders_as_go_text_template_does) {
    const auto data = ordered_json::parse(kData);
    for (const auto& c : kCases) {
        auto t = go::Template::parse(c.source);
        ASSERT_TRUE(t.ok()) << c.source << "\n" << t.error().message;
        auto out = t->execute(data);
        ASSERT_TRUE(out.ok()) << c.source << "\n" << out.error().message;
        EXPECT_EQ(*out, c.expected) << c.source;
    }
}

TEST(GoTemplate, objects_print_as_json_like_ollamas_structs) {
    // Go would print a plain map as map[a:1]; every struct Ollama hands a template (Tool,
    // ToolFunction, tool-call arguments) prints through a String method that marshals it.
    auto t = go::Template::parse("{{ .O }} {{ .Tools }} {{ .S }}");
    ASSERT_TRUE(t.ok());
    auto out = t->execute(ordered_json::parse(R"({"O": {"b": 1, "a": "<"}, "Tools": [{"x": 1}], "S": [1, "a"]})"));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, R"({"b":1,"a":"\u003c"} [{"x":1}] [1 a])");
}

TEST(GoTemplate, struct_fields_read_json_keys_or_their_zero_value) {
    const go::Fields fields = {{"ToolCalls", {"tool_calls", ordered_json::array()}}, {"Thinking", {"thinking", ""}}};
    auto t = go::Template::parse("[{{ .Thinking }}]{{ range .ToolCalls }}{{ .name }}{{ end }}{{ len .ToolCalls }}");
    ASSERT_TRUE(t.ok());
    auto with = t->execute(ordered_json::parse(R"({"tool_calls": [{"name": "f"}], "thinking": "hm"})"), &fields);
    ASSERT_TRUE(with.ok()) << with.error().message;
    EXPECT_EQ(*with, "[hm]f1");
    auto without = t->execute(ordered_json::object(), &fields);
    ASSERT_TRUE(without.ok()) << without.error().message;
    EXPECT_EQ(*without, "[]0");
}

TEST(GoTemplate, errors_name_the_line) {
    const std::pair<const char*, const char*> bad[] = {
        {"a\n{{ nosuch .X }}", "line 2: function \"nosuch\" not defined"},
        {"{{ if .A }}x", "line 1: unexpected EOF: {{ if }} has no {{ end }}"},
        {"x\n\n{{ end }}", "line 3: unexpected {{ end }}"},
        {"{{ define \"t\" }}{{ end }}", "line 1: {{ define }} is not supported"},
        {"{{ break }}", "line 1: {{ break }} outside {{ range }}"},
        {"{{ .A ", "line 1: unclosed action"},
        {"{{ \"abc }}", "line 1: unterminated quoted string"},
        {"{{ else }}", "line 1: unexpected {{ else }}"},
        {"{{/* open", "line 1: unclosed comment"},
    };
    for (const auto& [source, message] : bad) {
        auto t = go::Template::parse(source);
        ASSERT_FALSE(t.ok()) << source;
        EXPECT_EQ(t.error().message, message) << source;
    }
    auto t = go::Template::parse("ok\n{{ .Missing.X }}");
    ASSERT_TRUE(t.ok());
    auto out = t->execute(ordered_json::object());
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().message, "line 2: nil pointer evaluating interface {}.X");
}

TEST(GoTemplate, output_is_bounded) {
    // Nested ranges multiply: 1000 × 1000 × 1000 steps would take minutes without the budget.
    auto t =
        go::Template::parse("{{ range .A }}{{ range $.A }}{{ range $.A }}xxxxxxxxxxxxxxxx{{ end }}{{ end }}{{ end }}");
    ASSERT_TRUE(t.ok());
    ordered_json a = ordered_json::array();
    for (int i = 0; i < 1000; ++i) a.push_back(i);
    auto out = t->execute(ordered_json{{"A", a}});
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.error().message.find("exceed"), std::string::npos) << out.error().message;
}

// A template in the style of Ollama's library (system and tools first, then the turns; tool
// calls rendered from ToolCalls), written for this test.
const char* kMessagesTemplate = R"({{- if or .System .Tools }}<|start|>system
{{ if .System }}{{ .System }}{{ end }}
{{- if .Tools }}
Tools:
{{- range .Tools }}
{{ json .Function }}
{{- end }}{{ end }}<|end|>
{{ end }}
{{- range $i, $m := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start|>user
{{ .Content }}<|end|>
{{ else if eq .Role "assistant" }}<|start|>assistant
{{- if .ToolCalls }}
{{ range .ToolCalls }}call {{ .Function.Name }} {{ .Function.Arguments }}{{ end }}
{{- else }}
{{ .Content }}
{{- end }}{{ if not $last }}<|end|>
{{ end }}
{{- else if eq .Role "tool" }}<|start|>tool {{ .ToolName }}
{{ .Content }}<|end|>
{{ end }}
{{- if and $last (ne .Role "assistant") }}<|start|>assistant
{{ end }}
{{- end }})";

TEST(OllamaTemplate, renders_the_whole_conversation_with_tools_and_calls) {
    auto t = OllamaTemplate::parse(kMessagesTemplate);
    ASSERT_TRUE(t.ok()) << t.error().message;
    const auto messages = ordered_json::parse(R"([
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "Weather in Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\", \"unit\": \"C\"}"}}]},
        {"role": "tool", "name": "get_weather", "tool_call_id": "c1", "content": "21 C"}])");
    // Keys in the user's order; Ollama reads tools into its structs, so properties come out in
    // Go's field order (type before description) and keys it does not know ("default") go.
    const auto tools = ordered_json::parse(R"([{"type": "function", "function": {"name": "get_weather",
        "description": "Current weather", "parameters": {"type": "object", "properties": {
        "city": {"description": "A city", "type": "string", "default": "Rome"},
        "unit": {"type": ["string"], "enum": ["C", "F"]}}, "required": ["city"]}}}])");
    auto out = t->apply(messages, tools);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, R"(<|start|>system
Be exact.
Tools:
{"name":"get_weather","description":"Current weather","parameters":{"type":"object","required":["city"],"properties":{"city":{"type":"string","description":"A city"},"unit":{"type":"string","enum":["C","F"]}}}}<|end|>
<|start|>user
Weather in Rome?<|end|>
<|start|>assistant
call get_weather {"city":"Rome","unit":"C"}<|end|>
<|start|>tool get_weather
21 C<|end|>
<|start|>assistant
)");
}

TEST(OllamaTemplate, merges_runs_of_one_role_and_joins_system_messages) {
    auto t = OllamaTemplate::parse("{{ .System }}|{{ range .Messages }}{{ .Role }}:{{ .Content }};{{ end }}");
    ASSERT_TRUE(t.ok());
    auto out = t->apply(ordered_json::parse(R"([{"role": "system", "content": "A"}, {"role": "system", "content": "B"},
        {"role": "user", "content": [{"type": "text", "text": "u1"}]}, {"role": "user", "content": "u2"},
        {"role": "tool", "content": "t1"}, {"role": "tool", "content": "t2"}])"),
                        std::nullopt);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "A\n\nB|system:A\n\nB;user:u1\n\nu2;tool:t1;tool:t2;");
}

TEST(OllamaTemplate, renders_a_prompt_response_template_turn_by_turn) {
    // No .Messages: each finished exchange is rendered whole, the last one only up to .Response.
    auto t = OllamaTemplate::parse(
        "{{ if .System }}SYS: {{ .System }}\n{{ end }}{{ if .Prompt }}USER: {{ .Prompt }}\n"
        "{{ end }}BOT: {{ .Response }}</s>\n");
    ASSERT_TRUE(t.ok());
    const auto conversation = ordered_json::parse(R"([{"role": "system", "content": "s"},
        {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}])");
    auto out = t->apply(conversation, std::nullopt);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "SYS: s\nUSER: u1\nBOT: a1</s>\nUSER: u2\nBOT: ");

    // A last assistant message is a prefix the answer continues.
    auto cont = t->apply(
        ordered_json::parse(R"([{"role": "user", "content": "u"}, {"role": "assistant", "content": "Sure,"}])"),
        std::nullopt);
    ASSERT_TRUE(cont.ok());
    EXPECT_EQ(*cont, "USER: u\nBOT: Sure,");

    // Neither .Messages nor .Response: Ollama appends {{ .Response }}.
    auto bare = OllamaTemplate::parse("[INST] {{ .Prompt }} [/INST]");
    ASSERT_TRUE(bare.ok());
    auto b =
        bare->apply(ordered_json::parse(R"([{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"},
        {"role": "user", "content": "q2"}])"),
                    std::nullopt);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*b, "[INST] q1 [/INST]r1[INST] q2 [/INST]");
}

TEST(OllamaTemplate, go_syntax_is_told_from_jinja) {
    EXPECT_TRUE(tf::chat::is_go_template("{{ .Prompt }}"));
    EXPECT_TRUE(tf::chat::is_go_template("{{- range $i, $_ := .Messages }}{{ end }}"));
    EXPECT_TRUE(tf::chat::is_go_template("x{{ if .System }}{{ end }}"));
    EXPECT_FALSE(tf::chat::is_go_template("{%- for m in messages %}{{ m.content }}{% endfor %}"));
    EXPECT_FALSE(tf::chat::is_go_template("{{ bos_token }}{{ messages[0].content }}"));
}

tf::gguf::File model_file(std::vector<uint8_t>& bytes, const std::string& label, const char* chat_template) {
    tf::gguf::Writer w;
    w.set("general.architecture", tf::gguf::Value::string("llama"));
    w.set("tokenizer.ggml.tokens", tf::gguf::Value::string_array({"<s>", "</s>", "a"}));
    w.set("tokenizer.ggml.bos_token_id", tf::gguf::Value::u32(0));
    w.set("tokenizer.ggml.eos_token_id", tf::gguf::Value::u32(1));
    if (chat_template) w.set("tokenizer.chat_template", tf::gguf::Value::string(chat_template));
    bytes = w.write_to_memory().value();
    return tf::gguf::File::parse(bytes, label).value();
}

TEST(ChatTemplate, a_model_without_a_template_uses_its_registry_template) {
    tf::chat::set_registry_template_lookup([](const std::string& path) {
        return path == "/store/blobs/sha256-1" ? std::string("[INST] {{ .Prompt }} [/INST]") : std::string();
    });
    const auto messages = ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
    std::vector<uint8_t> b1, b2, b3;
    {
        auto c = tf::chat::ChatTemplate::from_model(model_file(b1, "/store/blobs/sha256-1", nullptr));
        ASSERT_TRUE(c.ok()) << c.error().message;
        EXPECT_TRUE(c->is_go());
        EXPECT_FALSE(c->is_default());
        tf::chat::ChatRequest r;
        r.messages = messages;
        EXPECT_EQ(c->apply(r).value(), "[INST] hi [/INST]");
    }
    {  // The GGUF's own template wins.
        auto c =
            tf::chat::ChatTemplate::from_model(model_file(b2, "/store/blobs/sha256-1", "{{ messages[0]['content'] }}"));
        ASSERT_TRUE(c.ok());
        EXPECT_FALSE(c->is_go());
    }
    {  // Another file: the documented default.
        auto c = tf::chat::ChatTemplate::from_model(model_file(b3, "/elsewhere/m.gguf", nullptr));
        ASSERT_TRUE(c.ok());
        EXPECT_TRUE(c->is_default());
    }
    tf::chat::set_registry_template_lookup({});
}

}  // namespace
