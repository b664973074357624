#include "engine/chat_prompt.h"

#include <cstdlib>
#include <optional>

namespace tf::engine {

namespace {

// Every message text (string contents and text parts), in order, replaced by a sentinel.
std::vector<std::string> swap_in_sentinels(nlohmann::ordered_json& messages) {
    std::vector<std::string> texts;
    auto swap = [&](nlohmann::ordered_json& slot) {
        texts.push_back(slot.get<std::string>());
        slot =
            "\x1f"
            "tf-content-" +
            std::to_string(texts.size() - 1) + "\x1f";
    };
    for (auto& m : messages) {
        if (!m.is_object()) continue;
        auto c = m.find("content");
        if (c == m.end()) continue;
        if (c->is_string()) {
            swap(*c);
        } else if (c->is_array()) {
            for (auto& part : *c) {
                if (part.is_object() && part.contains("text") && part["text"].is_string()) swap(part["text"]);
            }
        }
    }
    return texts;
}

// The byte ranges of `real` (the rendered conversation) that hold message text. The same
// template rendered with sentinels in place of the texts tells where they are: the template's
// own pieces must match `real` in order, and what lies between them is message text. nullopt
// when the two renderings do not line up (a template that inspects the text itself).
std::optional<std::vector<std::pair<size_t, size_t>>> content_ranges(const std::string& real, const std::string& marked,
                                                                     const std::vector<std::string>& texts) {
    std::vector<std::pair<size_t, size_t>> ranges;
    struct Piece {
        std::string literal;
        int text = -1;  // message text that follows, -1 at the end
    };
    std::vector<Piece> pieces;
    size_t at = 0;
    while (true) {
        const size_t open = marked.find(
            "\x1f"
            "tf-content-",
            at);
        if (open == std::string::npos) {
            pieces.push_back({marked.substr(at), -1});
            break;
        }
        const size_t close = marked.find('\x1f', open + 1);
        if (close == std::string::npos) return std::nullopt;
        const int k = std::atoi(marked.c_str() + open + 12);
        if (k < 0 || static_cast<size_t>(k) >= texts.size()) return std::nullopt;
        pieces.push_back({marked.substr(at, open - at), k});
        at = close + 1;
    }
    size_t pos = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
        const Piece& p = pieces[i];
        if (real.compare(pos, p.literal.size(), p.literal) != 0) return std::nullopt;
        pos += p.literal.size();
        if (p.text < 0) return pos == real.size() ? std::optional(ranges) : std::nullopt;
        const std::string& t = texts[static_cast<size_t>(p.text)];
        size_t end;
        if (real.compare(pos, t.size(), t) == 0) {
            end = pos + t.size();
        } else {
            // The template changed the text (trimmed it, say): it ends where the next piece starts.
            const std::string& next = pieces[i + 1].literal;
            end = pieces[i + 1].text < 0 ? real.size() - std::min(real.size(), next.size()) : real.find(next, pos);
            if (end == std::string::npos || end < pos) return std::nullopt;
        }
        ranges.push_back({pos, end});
        pos = end;
    }
    return ranges;
}

}  // namespace

Result<ChatPrompt> render_chat(const tok::Tokenizer& tokenizer, const chat::ChatTemplate& tmpl,
                               const chat::ChatRequest& request) {
    auto text = tmpl.apply(request);
    if (!text) return text.error();
    ChatPrompt p;
    p.text = std::move(text.value());
    chat::ChatRequest marked_request = request;
    const std::vector<std::string> texts = swap_in_sentinels(marked_request.messages);
    auto marked = tmpl.apply(marked_request);
    std::optional<std::vector<std::pair<size_t, size_t>>> plain;
    if (marked) plain = content_ranges(p.text, marked.value(), texts);
    if (!plain) {
        // Cannot tell the template's text from the messages': no control tokens from the text at
        // all, except the template's leading and trailing markers are then plain text too. Safe,
        // if not what the model was trained on; such templates are rare.
        plain = std::vector<std::pair<size_t, size_t>>{{0, p.text.size()}};
    }
    p.tokens = tokenizer.encode(p.text, false, true, *plain);
    const tok::Vocab& v = tokenizer.vocab();
    if (v.add_bos && v.bos != tok::kNoToken && (p.tokens.empty() || p.tokens.front() != v.bos)) {
        p.tokens.insert(p.tokens.begin(), v.bos);
    }
    return p;
}

Status check_chat_template(const std::string& source) {
    auto t = chat::ChatTemplate::from_source(source, "", "");
    if (!t) return t.error();
    return {};
}

}  // namespace tf::engine
