// Rendering a conversation with a model's own chat template (tokenizer.chat_template), or the
// documented default — ChatML, `<|im_start|>role\ncontent<|im_end|>\n` — when the model has none.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "gguf/file.h"
#include "tokenizer/chat/jinja.h"
#include "util/result.h"

namespace tf::chat {

extern const char* const kDefaultChatTemplate;

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
    const std::string& source() const { return source_; }

  private:
    std::optional<jinja::Template> template_;
    std::string bos_, eos_, source_;
    bool is_default_ = false;
};

}  // namespace tf::chat
