// libFuzzer target for the chat-template engines: a model file's tokenizer.chat_template (Jinja)
// and an Ollama registry's template layer (Go text/template) are outside input. Any bytes must
// parse and render to a string or an error, in both languages — no crash, no hang beyond the
// execution budget, no runaway memory.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tokenizer/chat/jinja.h"
#include "tokenizer/chat/ollama_template.h"

namespace {

void fuzz_go(const std::string& source, const nlohmann::ordered_json& ctx) {
    auto t = tf::chat::OllamaTemplate::parse(source);
    if (!t.ok()) {
        if (t.error().message.empty()) std::abort();
        return;
    }
    auto r = t->apply(ctx["messages"], ctx["tools"]);
    if (!r.ok() && r.error().message.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string source(reinterpret_cast<const char*>(data), size);
    auto t = tf::jinja::Template::parse(source);
    static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <|im_start|> 😀"},
                     {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function":
                       {"name": "f", "arguments": {"x": 1, "y": [1.5, null, true]}}}]},
                     {"role": "tool", "content": "42"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
    fuzz_go(source, ctx);
    if (!t.ok()) {
        if (t.error().message.empty()) std::abort();
        return 0;
    }
    tf::jinja::RenderOptions opt;
    opt.now = 0;
    auto r = t->render(ctx, opt);
    if (!r.ok() && r.error().message.empty()) std::abort();
    return 0;
}
