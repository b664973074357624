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
