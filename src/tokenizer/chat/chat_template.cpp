#include "tokenizer/chat/chat_template.h"

#include <mutex>

#include "gguf/keys.h"

namespace tf::chat {

namespace {
std::mutex lookup_mu;
RegistryTemplateLookup& lookup_slot() {
    static RegistryTemplateLookup f;
    return f;
}
}  // namespace

void set_registry_template_lookup(RegistryTemplateLookup lookup) {
    std::lock_guard lock(lookup_mu);
    lookup_slot() = std::move(lookup);
}

const char* const kDefaultChatTemplate =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

Result<ChatTemplate> ChatTemplate::from_source(const std::string& source, std::string bos, std::string eos) {
    ChatTemplate c;
    if (is_go_template(source)) {
        auto g = OllamaTemplate::parse(source);
        if (!g) return Error{"Go template: " + g.error().message};
        c.go_ = std::move(g.value());
    } else {
        auto t = jinja::Template::parse(source);
        if (!t) return t.error();
        c.template_ = std::move(t.value());
    }
    c.source_ = source;
    c.bos_ = std::move(bos);
    c.eos_ = std::move(eos);
    return c;
}

Result<ChatTemplate> ChatTemplate::from_model(const gguf::File& file) {
    auto token_text = [&](std::string_view key) -> std::string {
        auto id = file.get_int(key);
        const gguf::Value* toks = file.find(gguf::keys::kTokens);
        if (!id || toks == nullptr || !toks->is_array() || toks->array_type() != gguf::ValueType::STRING) return "";
        if (*id < 0 || static_cast<uint64_t>(*id) >= toks->array_size()) return "";
        return toks->array_strings()[static_cast<size_t>(*id)];
    };
    const auto source = file.get_string(gguf::keys::kChatTemplate);
    std::string registry;
    if (!source) {
        std::lock_guard lock(lookup_mu);
        if (lookup_slot()) registry = lookup_slot()(file.label());
    }
    if (!registry.empty()) {
        auto c = from_source(registry, token_text(gguf::keys::kBosTokenId), token_text(gguf::keys::kEosTokenId));
        if (!c) return Error{file.label() + ": the registry's template: " + c.error().message};
        return c;
    }
    auto c = from_source(source ? *source : kDefaultChatTemplate, token_text(gguf::keys::kBosTokenId),
                         token_text(gguf::keys::kEosTokenId));
    if (!c) return Error{file.label() + ": tokenizer.chat_template: " + c.error().message};
    c->is_default_ = !source.has_value();
    return c;
}

Result<std::string> ChatTemplate::apply(const ChatRequest& r) const {
    if (go_) return go_->apply(r.messages, r.tools);
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    ctx["messages"] = r.messages;
    if (r.tools) ctx["tools"] = *r.tools;
    ctx["add_generation_prompt"] = r.add_generation_prompt;
    ctx["bos_token"] = bos_;
    ctx["eos_token"] = eos_;
    return template_->render(ctx, r.options);
}

}  // namespace tf::chat
