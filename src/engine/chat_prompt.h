// A conversation rendered with the model's chat template and tokenized so that the template's
// own markers become control tokens while the messages' text never does: a document that
// contains "<|im_end|>" cannot end its turn early or forge a system message.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/chat/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/result.h"

namespace tf::engine {

struct ChatPrompt {
    std::string text;             // the rendered template
    std::vector<int32_t> tokens;  // BOS added when the vocabulary wants one and the template did not
};

// Whether a chat template source (Jinja, or Go text/template as Ollama registries write them)
// parses; the error names the line. For templates a client supplies (/api/create).
Status check_chat_template(const std::string& source);

Result<ChatPrompt> render_chat(const tok::Tokenizer& tokenizer, const chat::ChatTemplate& tmpl,
                               const chat::ChatRequest& request);

}  // namespace tf::engine
