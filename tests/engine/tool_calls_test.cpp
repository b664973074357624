// Tool-call syntaxes: detection from real chat templates, grammars that accept exactly
// well-formed calls, and parsing back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/tool_calls.h"
#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/matcher.h"
#include "support/reference.h"

namespace {

using json = nlohmann::ordered_json;
using tf::engine::ToolSyntax;

const json kTools = json::parse(R"([
  {"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city"]}}},
  {"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}])");

bool accepts(const std::string& gbnf, const std::string& text) {
    auto g = tf::grammar::parse_gbnf(gbnf);
    EXPECT_TRUE(g.ok()) << g.error().message << "\n" << gbnf;
    if (!g.ok()) return false;
    tf::grammar::Matcher m(std::make_shared<const tf::grammar::Grammar>(std::move(g.value())));
    return m.accept(text) && m.can_end();
}

TEST(ToolCalls, syntax_is_detected_from_real_templates) {
    const auto dir = tf::test::shared_dir() / "peer-tests/chat-templates/templates";
    if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no templates";
    auto read = [&](const char* f) {
        std::ifstream in(dir / f);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    EXPECT_EQ(tf::engine::detect_tool_syntax(read("Qwen-Qwen2.5-7B-Instruct.jinja")), ToolSyntax::Hermes);
    EXPECT_EQ(tf::engine::detect_tool_syntax(read("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")), ToolSyntax::Hermes);
    EXPECT_EQ(tf::engine::detect_tool_syntax(read("meta-llama-Llama-3.1-8B-Instruct.jinja")), ToolSyntax::Llama3);
    EXPECT_EQ(tf::engine::detect_tool_syntax(read("mistralai-Mistral-Nemo-Instruct-2407.jinja")), ToolSyntax::Mistral);
}

TEST(ToolCalls, grammars_accept_well_formed_calls_only) {
    auto hermes = tf::engine::tool_call_grammar(ToolSyntax::Hermes, kTools, true);
    ASSERT_TRUE(hermes.ok()) << hermes.error().message;
    EXPECT_TRUE(accepts(*hermes, "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>"));
    EXPECT_TRUE(accepts(*hermes, "<tool_call>\n{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}\n</tool_call>\n<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\",\"unit\":\"c\"}}\n</tool_call>"));
    EXPECT_FALSE(accepts(*hermes, "<tool_call>\n{\"name\":\"add\",\"arguments\":{\"a\":1}}\n</tool_call>"));              // b missing
    EXPECT_FALSE(accepts(*hermes, "<tool_call>\n{\"name\":\"delete_all\",\"arguments\":{}}\n</tool_call>"));             // unknown tool
    EXPECT_FALSE(accepts(*hermes, "<tool_call>\n{\"name\":\"add\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>"));  // wrong arguments
    auto single = tf::engine::tool_call_grammar(ToolSyntax::Llama3, kTools, false, "add");
    ASSERT_TRUE(single.ok());
    EXPECT_TRUE(accepts(*single, "{\"name\":\"add\",\"parameters\":{\"a\":1,\"b\":2}}"));
    EXPECT_FALSE(accepts(*single, "{\"name\":\"get_weather\",\"parameters\":{\"city\":\"x\"}}"));
    auto mistral = tf::engine::tool_call_grammar(ToolSyntax::Mistral, kTools, true);
    ASSERT_TRUE(mistral.ok());
    EXPECT_TRUE(accepts(*mistral, "[TOOL_CALLS][{\"name\":\"add\",\"arguments\":{\"a\":3,\"b\":4}}, {\"name\":\"add\",\"arguments\":{\"a\":5,\"b\":6}}]"));
    EXPECT_FALSE(tf::engine::tool_call_grammar(ToolSyntax::Hermes, kTools, false, "nope").ok());
    auto phi4 = tf::engine::tool_call_grammar(ToolSyntax::Phi4, kTools, true);
    ASSERT_TRUE(phi4.ok());
    EXPECT_TRUE(accepts(*phi4, "functools[{\"name\":\"add\",\"arguments\":{\"a\":3,\"b\":4}}, {\"name\":\"get_weather\",\"arguments\":{\"city\":\"Rome\"}}]"));
    EXPECT_FALSE(accepts(*phi4, "functools[{\"name\":\"add\",\"arguments\":{\"a\":3}}]"));
    EXPECT_FALSE(accepts(*phi4, "[{\"name\":\"add\",\"arguments\":{\"a\":3,\"b\":4}}]"));
}

// Phi-4-mini's template (as published with the model): tools come from the system message.
constexpr const char* kPhi4Template =
    "{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}"
    "{% else %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}";

TEST(ToolCalls, phi4_is_detected_gets_its_tools_in_the_system_message_and_parses) {
    EXPECT_EQ(tf::engine::detect_tool_syntax(kPhi4Template), ToolSyntax::Phi4);
    auto tmpl = tf::chat::ChatTemplate::from_source(kPhi4Template, "<s>", "<|endoftext|>");
    ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
    tf::chat::ChatRequest req;
    req.messages = json::parse(R"([{"role":"user","content":"Add 2 and 3."}])");
    req.tools = kTools;
    tf::engine::attach_tools(ToolSyntax::Phi4, req);
    auto text = tmpl->apply(req);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text, "<|system|><|tool|>" + kTools.dump() + "<|/tool|><|end|><|user|>Add 2 and 3.<|end|><|assistant|>");
    // A system message of the caller's keeps its text; the tools join it once.
    tf::chat::ChatRequest with_system;
    with_system.messages = json::parse(R"([{"role":"system","content":"Be terse."},{"role":"user","content":"Hi"}])");
    with_system.tools = kTools;
    tf::engine::attach_tools(ToolSyntax::Phi4, with_system);
    tf::engine::attach_tools(ToolSyntax::Phi4, with_system);
    EXPECT_EQ(with_system.messages.size(), 2u);
    EXPECT_EQ(with_system.messages[0]["content"], "Be terse.");
    EXPECT_EQ(with_system.messages[0]["tools"], kTools.dump());
    // Other families read `tools` themselves.
    tf::chat::ChatRequest hermes = req;
    hermes.messages = json::parse(R"([{"role":"user","content":"x"}])");
    tf::engine::attach_tools(ToolSyntax::Hermes, hermes);
    EXPECT_EQ(hermes.messages.size(), 1u);

    auto a = tf::engine::parse_tool_calls(ToolSyntax::Phi4, "functools[{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}, {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}]");
    ASSERT_EQ(a.calls.size(), 2u);
    EXPECT_EQ(a.calls[0].name, "add");
    EXPECT_EQ(a.calls[0].arguments["b"], 3);
    EXPECT_EQ(a.calls[1].arguments["city"], "Oslo");
    EXPECT_EQ(a.content, "");
    EXPECT_TRUE(tf::engine::parse_tool_calls(ToolSyntax::Phi4, "No tools needed.").calls.empty());
    EXPECT_EQ(tf::engine::parse_tool_calls(ToolSyntax::Phi4, "functools[{\"name\": broken").content, "functools[{\"name\": broken");
}

TEST(ToolCalls, parsing_recovers_calls_and_text) {
    auto a = tf::engine::parse_tool_calls(ToolSyntax::Hermes,
                                          "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
    ASSERT_EQ(a.calls.size(), 1u);
    EXPECT_EQ(a.calls[0].name, "get_weather");
    EXPECT_EQ(a.calls[0].arguments["city"], "Paris");
    EXPECT_EQ(a.content, "Let me check.");
    auto broken = tf::engine::parse_tool_calls(ToolSyntax::Hermes, "<tool_call>\n{\"name\": \n</tool_call>");
    EXPECT_TRUE(broken.calls.empty());
    EXPECT_FALSE(broken.content.empty());
    auto l = tf::engine::parse_tool_calls(ToolSyntax::Llama3, "<|python_tag|>{\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": 2}}");
    ASSERT_EQ(l.calls.size(), 1u);
    EXPECT_EQ(l.calls[0].arguments["b"], 2);
    auto m = tf::engine::parse_tool_calls(ToolSyntax::Mistral, "[TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}]");
    ASSERT_EQ(m.calls.size(), 1u);
    auto plain = tf::engine::parse_tool_calls(ToolSyntax::Llama3, "The weather is nice.");
    EXPECT_TRUE(plain.calls.empty());
    EXPECT_EQ(plain.content, "The weather is nice.");
}

}  // namespace

namespace {

// Gemma 4: detected from its published template; the grammar accepts the call exactly as the
// template renders it (../shared's expected rendering), parsing gives the call back, and the
// notation's strings are raw (quotes, newlines, '<') but never hold the <|"|> mark.
TEST(ToolCalls, gemma_calls_in_its_own_notation) {
    const auto base = tf::test::shared_dir() / "peer-tests/chat-templates";
    if (!std::filesystem::exists(base / "cases.json")) GTEST_SKIP() << "no templates";
    auto read = [](const std::filesystem::path& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    EXPECT_EQ(tf::engine::detect_tool_syntax(read(base / "templates/google-gemma-4-31B-it.jinja")), ToolSyntax::Gemma);
    EXPECT_NE(tf::engine::detect_tool_syntax(read(base / "templates/gemma-3-it.jinja")), ToolSyntax::Gemma);
    const json cases = json::parse(read(base / "cases.json"));
    const json* tools_case = nullptr;
    for (const auto& c : cases) {
        if (c["template"] == "templates/google-gemma-4-31B-it.jinja" && c["conversation"] == "tools") tools_case = &c;
    }
    ASSERT_NE(tools_case, nullptr);
    const std::string expected = (*tools_case)["expected"];
    const size_t open = expected.find("<|tool_call>"), close = expected.find("<tool_call|>");
    ASSERT_NE(open, std::string::npos);
    ASSERT_NE(close, std::string::npos);
    const std::string rendered = expected.substr(open, close + 12 - open);
    auto g = tf::engine::tool_call_grammar(ToolSyntax::Gemma, (*tools_case)["tools"], true);
    ASSERT_TRUE(g.ok()) << g.error().message;
    EXPECT_TRUE(accepts(*g, rendered)) << rendered << "\n" << *g;
    const auto parsed = tf::engine::parse_tool_calls(ToolSyntax::Gemma, "Let me check. " + rendered);
    ASSERT_EQ(parsed.calls.size(), 1u);
    EXPECT_EQ(parsed.calls[0].name, "get_weather");
    EXPECT_EQ(parsed.calls[0].arguments, (*tools_case)["messages"][2]["tool_calls"][0]["function"]["arguments"]);
    EXPECT_EQ(parsed.content, "Let me check.");

    auto both = tf::engine::tool_call_grammar(ToolSyntax::Gemma, kTools, true);
    ASSERT_TRUE(both.ok()) << both.error().message;
    const std::string q = "<|\"|>";
    EXPECT_TRUE(accepts(*both, "<|tool_call>call:add{a:1,b:-2}<tool_call|><|tool_call>call:get_weather{city:" + q + "São \"Paulo\"\n<b>|<|" + q +
                                   ",unit:" + q + "c" + q + "}<tool_call|>"));
    EXPECT_FALSE(accepts(*both, "<|tool_call>call:get_weather{city:" + q + "a" + q + "b" + q + "}<tool_call|>"));  // the mark inside
    EXPECT_FALSE(accepts(*both, "<|tool_call>call:add{a:1}<tool_call|>"));                                   // b missing
    EXPECT_FALSE(accepts(*both, "<|tool_call>call:add{\"a\":1,\"b\":2}<tool_call|>"));                         // JSON keys
    EXPECT_FALSE(accepts(*both, "<|tool_call>call:get_weather{city:" + q + "x" + q + ",unit:" + q + "k" + q + "}<tool_call|>"));  // enum
    EXPECT_FALSE(accepts(*both, "<|tool_call>call:delete_all{}<tool_call|>"));
    auto only = tf::engine::tool_call_grammar(ToolSyntax::Gemma, kTools, false, "add");
    ASSERT_TRUE(only.ok());
    EXPECT_TRUE(accepts(*only, "<|tool_call>call:add{a:3,b:4}<tool_call|>"));
    EXPECT_FALSE(accepts(*only, "<|tool_call>call:add{a:3,b:4}<tool_call|><|tool_call>call:add{a:3,b:4}<tool_call|>"));
    EXPECT_EQ(tf::engine::tool_call_triggers(ToolSyntax::Gemma), std::vector<std::string>{"<|tool_call>"});

    const auto two = tf::engine::parse_tool_calls(
        ToolSyntax::Gemma, "<|tool_call>call:add{a:1,b:2.5e1}<tool_call|><|tool_call>call:plan{steps:[" + q + "a" + q + ",{n:null,ok:true}],x:{}}<tool_call|>");
    ASSERT_EQ(two.calls.size(), 2u);
    EXPECT_EQ(two.calls[0].arguments, json::parse(R"({"a":1,"b":25.0})"));
    EXPECT_EQ(two.calls[1].arguments, json::parse(R"({"steps":["a",{"n":null,"ok":true}],"x":{}})"));
    EXPECT_TRUE(two.content.empty());
    // Malformed calls stay text; the notation's errors say where.
    EXPECT_EQ(tf::engine::parse_tool_calls(ToolSyntax::Gemma, "<|tool_call>call:add{a:<tool_call|>").calls.size(), 0u);
    auto bad = tf::engine::parse_gemma_value("{city:" + q + "Oslo}");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("unterminated string at byte 6"), std::string::npos) << bad.error().message;
    EXPECT_FALSE(tf::engine::parse_gemma_value("{a:1 b:2}").ok());
    EXPECT_FALSE(tf::engine::parse_gemma_value(std::string(100, '[')).ok());
}

}  // namespace

namespace {

// gpt-oss (harmony): detected from its published template; the grammar accepts the call as the
// template renders it (../shared's expected rendering) and as the model writes it, parsing gives
// the call back, and the final channel is the answer.
TEST(ToolCalls, harmony_calls_from_gpt_oss) {
    const auto base = tf::test::shared_dir() / "peer-tests/chat-templates";
    if (!std::filesystem::exists(base / "cases.json")) GTEST_SKIP() << "no templates";
    auto read = [](const std::filesystem::path& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    EXPECT_EQ(tf::engine::detect_tool_syntax(read(base / "templates/openai-gpt-oss-120b.jinja")), ToolSyntax::Harmony);
    EXPECT_NE(tf::engine::detect_tool_syntax(read(base / "templates/Qwen-Qwen3-0.6B.jinja")), ToolSyntax::Harmony);
    const json cases = json::parse(read(base / "cases.json"));
    const json* tools_case = nullptr;
    for (const auto& c : cases) {
        if (c["template"] == "templates/openai-gpt-oss-120b.jinja" && c["conversation"] == "tools") tools_case = &c;
    }
    ASSERT_NE(tools_case, nullptr);
    const std::string expected = (*tools_case)["expected"];
    // What the template renders after "<|start|>assistant" for the call.
    const std::string head = "<|start|>assistant";
    const size_t open = expected.find(head + " to=functions."), close = expected.find("<|call|>");
    ASSERT_NE(open, std::string::npos);
    ASSERT_NE(close, std::string::npos);
    const std::string rendered = expected.substr(open + head.size(), close + 8 - open - head.size());
    const json& args = (*tools_case)["messages"][2]["tool_calls"][0]["function"]["arguments"];
    auto g = tf::engine::tool_call_grammar(ToolSyntax::Harmony, (*tools_case)["tools"], true);
    ASSERT_TRUE(g.ok()) << g.error().message;
    // The grammar stops before <|call|>: that token ends generation (the sampler's choice once the
    // grammar is complete).
    auto without_call = [](const std::string& s) { return s.substr(0, s.rfind("<|call|>")); };
    EXPECT_TRUE(accepts(*g, without_call(rendered))) << rendered << "\n" << *g;
    // The model's own header order, compact JSON, from the trigger on (tool_choice auto).
    const std::string model_form = "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\":\"Rome\"}<|call|>";
    EXPECT_TRUE(accepts(*g, without_call(model_form)));
    EXPECT_TRUE(accepts(*g, without_call(model_form.substr(model_form.find("to=functions.")))));
    EXPECT_FALSE(accepts(*g, "to=functions.get_weather<|message|>{\"unit\":\"celsius\"}"));  // location required
    EXPECT_FALSE(accepts(*g, "to=functions.delete_all<|message|>{}"));
    EXPECT_EQ(tf::engine::tool_call_triggers(ToolSyntax::Harmony), std::vector<std::string>{"to=functions."});

    const auto parsed = tf::engine::parse_tool_calls(ToolSyntax::Harmony, rendered);
    ASSERT_EQ(parsed.calls.size(), 1u);
    EXPECT_EQ(parsed.calls[0].name, "get_weather");
    EXPECT_EQ(parsed.calls[0].arguments, args);
    const auto with_analysis = tf::engine::parse_tool_calls(
        ToolSyntax::Harmony, "<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant" + model_form);
    ASSERT_EQ(with_analysis.calls.size(), 1u);
    EXPECT_EQ(with_analysis.calls[0].arguments, json::parse(R"({"location":"Rome"})"));
    EXPECT_TRUE(with_analysis.content.empty());  // the analysis channel is reasoning, not the answer
    const auto final_answer = tf::engine::parse_tool_calls(
        ToolSyntax::Harmony, "<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>It is 21 °C in Rome.<|return|>");
    EXPECT_TRUE(final_answer.calls.empty());
    EXPECT_EQ(final_answer.content, "It is 21 °C in Rome.");
    // As generated: the call's end is the end-of-generation token, not text.
    const auto generated = tf::engine::parse_tool_calls(ToolSyntax::Harmony, " to=functions.get_weather<|channel|>commentary json<|message|>{\"location\": \"Oslo\"}");
    ASSERT_EQ(generated.calls.size(), 1u);
    EXPECT_EQ(generated.calls[0].arguments["location"], "Oslo");
    EXPECT_EQ(with_analysis.reasoning, "Need the weather.");
    // A call whose arguments are not JSON stays text.
    const auto broken = tf::engine::parse_tool_calls(ToolSyntax::Harmony, "to=functions.get_weather<|message|>{location:<|call|>");
    EXPECT_TRUE(broken.calls.empty());
    EXPECT_FALSE(broken.content.empty());
}

}  // namespace
