// Every case of ../shared/peer-tests/chat-templates renders exactly as Jinja2 renders it the
// Hugging Face way (or fails with the template's own error message).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/reference.h"
#include "tokenizer/chat/jinja.h"

namespace {

using nlohmann::ordered_json;

std::filesystem::path chat_dir() { return tf::test::shared_dir() / "peer-tests" / "chat-templates"; }

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::time_t fixed_moment() {  // 2026-01-15 09:30:00, the moment the expected renderings used
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 0;
    tm.tm_mday = 15;
    tm.tm_hour = 9;
    tm.tm_min = 30;
    return timegm(&tm);
}

std::string first_difference(const std::string& a, const std::string& b) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    const size_t from = i > 40 ? i - 40 : 0;
    return "at byte " + std::to_string(i) + ":\n  expected …" + ordered_json(b.substr(from, 120)).dump() + "\n  rendered …" +
           ordered_json(a.substr(from, 120)).dump();
}

struct Outcome {
    bool ok;
    std::string text;
};

Outcome render(const std::string& source, const ordered_json& c) {
    auto t = tf::jinja::Template::parse(source);
    if (!t.ok()) return {false, t.error().message};
    ordered_json ctx = ordered_json::object();
    ctx["messages"] = c["messages"];
    if (c.contains("tools") && !c["tools"].is_null()) ctx["tools"] = c["tools"];
    ctx["add_generation_prompt"] = c.value("add_generation_prompt", false);
    ctx["bos_token"] = c.value("bos_token", "");
    ctx["eos_token"] = c.value("eos_token", "");
    tf::jinja::RenderOptions opt;
    opt.now = fixed_moment();
    auto r = t->render(ctx, opt);
    if (!r.ok()) return {false, r.error().message};
    return {true, *r};
}

TEST(ChatTemplates, every_peer_case_renders_exactly) {
    if (!std::filesystem::exists(chat_dir())) GTEST_SKIP() << "peer tests not found";
    const auto cases = ordered_json::parse(slurp(chat_dir() / "cases.json"));
    int passed = 0;
    for (const auto& c : cases) {
        const std::string name = c["template"].get<std::string>() + " / " + c["conversation"].get<std::string>();
        const Outcome o = render(slurp(chat_dir() / c["template"].get<std::string>()), c);
        if (c.contains("expected_error")) {
            const std::string want = c["expected_error"].get<std::string>();
            if (!o.ok && o.text.find(want) != std::string::npos) ++passed;
            else ADD_FAILURE() << name << ": expected the error '" << want << "', got " << (o.ok ? "a rendering" : o.text);
            continue;
        }
        const std::string want = c["expected"].get<std::string>();
        if (o.ok && o.text == want) ++passed;
        else ADD_FAILURE() << name << ": " << (o.ok ? first_difference(o.text, want) : o.text);
    }
    std::printf("[chat templates] %d/%zu cases exact\n", passed, cases.size());
}

TEST(ChatTemplates, llama_cpp_test_cases_render_like_jinja2) {
    if (!std::filesystem::exists(chat_dir())) GTEST_SKIP() << "peer tests not found";
    const auto cases = ordered_json::parse(slurp(chat_dir() / "llamacpp-test-chat-template.json"));
    int passed = 0, total = 0;
    for (const auto& c : cases) {
        const std::string name = c["name"].get<std::string>();
        const Outcome o = render(c["template"].get<std::string>(), c);
        ++total;
        if (c.contains("plain_jinja2_error") && !c["plain_jinja2_error"].is_null()) {
            if (!o.ok) ++passed;
            else ADD_FAILURE() << name << ": expected an error (" << c["plain_jinja2_error"] << "), got a rendering";
            continue;
        }
        const std::string want = c["plain_jinja2"].get<std::string>();
        if (o.ok && o.text == want) ++passed;
        else ADD_FAILURE() << name << ": " << (o.ok ? first_difference(o.text, want) : o.text);
    }
    std::printf("[llama.cpp chat cases] %d/%d exact\n", passed, total);
}

}  // namespace

namespace {

std::string render_error(const std::string& source) {
    auto t = tf::jinja::Template::parse(source);
    if (!t.ok()) return t.error().message;
    auto r = t->render(nlohmann::ordered_json::object());
    return r.ok() ? "<rendered " + std::to_string(r->size()) + " bytes>" : r.error().message;
}

TEST(ChatTemplateLimits, hostile_templates_fail_cleanly) {
    EXPECT_NE(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("macro calls nested deeper than"),
              std::string::npos);
    EXPECT_NE(render_error("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}")
                  .find("execution budget"),
              std::string::npos);
    EXPECT_NE(render_error("{{ 'x' * 1000000000 }}").find("exceeds 64 MiB"), std::string::npos);
    EXPECT_NE(render_error("{{ range(100000000) }}").find("longer than 1000000"), std::string::npos);
    EXPECT_NE(render_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested too deeply"),
              std::string::npos);
    EXPECT_NE(render_error("{{ 99999999999999999999999 }}").find("out of range"), std::string::npos);
    EXPECT_NE(render_error("{% if x %}").find("missing '{% endif %}'"), std::string::npos);
    EXPECT_NE(render_error("{{ x | frobnicate }}").find("unknown filter 'frobnicate'"), std::string::npos);
    EXPECT_NE(render_error("{% call x %}{% endcall %}").find("unsupported tag '{% call %}'"), std::string::npos);
    EXPECT_NE(render_error("line1\n{{ 1 / 0 }}").find("line 2: division by zero"), std::string::npos);
}

}  // namespace
