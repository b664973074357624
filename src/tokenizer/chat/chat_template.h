// Rendering a conversation with a model's own chat template (tokenizer.chat_template); for a GGUF
// without one, the Go template of the Ollama registry it was pulled from (see
// set_registry_template_lookup), else the documented default — ChatML,
// `<|im_start|>role\ncontent<|im_end|>\n`. A template source in Go syntax renders as Ollama does.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "gguf/file.h"
#include "tokenizer/chat/jinja.h"
#include "tokenizer/chat/ollama_template.h"
#include "util/result.h"

namespace tf::chat {

extern const char* const kDefaultChatTemplate;

// The model store knows which registry template came with a file; the tokenizer layer cannot ask
// it (the store sits above), so the program installs the question once at start-up: given a
// model file's path, the registry's template text or "".
using RegistryTemplateLookup = std::function<std::string(const std::string& model_path)>;
void set_registry_template_lookup(RegistryTemplateLookup lookup);

struct ChatRequest {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    std::optional<nlohmann::ordered_json> tools;
    bool add_generation_prompt = true;
    jinja::RenderOptions options;
};

class ChatTemplate {
  public:
    // The model's template and its BOS/EOS token texts.
    static Result<ChatTemplate> from_model(const gguf::File& file);
    static Result<ChatTemplate> from_source(const std::string& source, std::string bos_token, std::string eos_token);

    Result<std::string> apply(const ChatRequest& request) const;
    bool is_default() const { return is_default_; }
    bool is_go() const { return go_.has_value(); }
    const std::string& source() const { return source_; }

  private:
    std::optional<jinja::Template> template_;
    std::optional<OllamaTemplate> go_;
    std::string bos_, eos_, source_;
    bool is_default_ = false;
};

}  // namespace tf::chat
