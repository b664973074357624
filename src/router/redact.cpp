#include "router/redact.h"

#include <algorithm>
#include <cctype>

#include "router/json_fields.h"

namespace tf::router {

namespace {

constexpr std::string_view kOpen = "[[", kClose = "]]";

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string Vault::redact(std::string_view text, const std::vector<Finding>& findings, std::string_view seen_text) {
    std::string out;
    size_t at = 0;
    for (const auto& f : findings) {
        if (f.begin < at || f.end > text.size() || f.begin >= f.end) continue;  // not sorted or outside: skipped
        out.append(text.substr(at, f.begin - at));
        const std::string value(text.substr(f.begin, f.end - f.begin));
        const std::string key = f.type + '\0' + value;
        auto it = by_value_.find(key);
        if (it == by_value_.end()) {
            std::string placeholder;
            do {
                placeholder =
                    std::string(kOpen) + upper(f.type) + "_" + std::to_string(++next_[f.type]) + std::string(kClose);
            } while (text.find(placeholder) != std::string_view::npos ||
                     seen_text.find(placeholder) != std::string_view::npos || by_placeholder_.count(placeholder));
            it = by_value_.emplace(key, placeholder).first;
            by_placeholder_.emplace(placeholder, value);
            ++counts_[f.type];
        }
        out += it->second;
        at = f.end;
    }
    out.append(text.substr(std::min(at, text.size())));
    return out;
}

std::string Vault::restore(std::string_view text) const {
    std::string out;
    size_t at = 0;
    while (at < text.size()) {
        const size_t open = text.find(kOpen, at);
        if (open == std::string_view::npos) break;
        const size_t close = text.find(kClose, open + kOpen.size());
        if (close == std::string_view::npos) break;
        const std::string candidate(text.substr(open, close + kClose.size() - open));
        auto it = by_placeholder_.find(candidate);
        if (it == by_placeholder_.end()) {
            out.append(text.substr(at, open + 1 - at));  // not ours: move on by one character
            at = open + 1;
            continue;
        }
        out.append(text.substr(at, open - at));
        out += it->second;
        at = close + kClose.size();
    }
    out.append(text.substr(std::min(at, text.size())));
    return out;
}

void Vault::restore(nlohmann::ordered_json& v) const {
    if (v.is_string()) {
        v = restore(v.get_ref<const std::string&>());
    } else if (v.is_array() || v.is_object()) {
        for (auto& e : v) restore(e);
    }
}

std::map<std::string, int> Vault::counts() const {
    return counts_;
}

std::string StreamRestorer::push(std::string_view chunk) {
    held_.append(chunk);
    // Everything up to a "[" that could still open one of the vault's placeholders is final.
    size_t keep_from = held_.size();
    for (size_t i = held_.size(); i-- > 0 && held_.size() - i < 64;) {
        if (held_[i] != '[') continue;
        const std::string_view tail = std::string_view(held_).substr(i);
        bool prefix = false;
        for (const auto& [placeholder, value] : vault_.placeholders()) {
            if (placeholder.size() > tail.size() && placeholder.compare(0, tail.size(), tail) == 0) {
                prefix = true;
                break;
            }
        }
        if (prefix) keep_from = i;
    }
    std::string out = vault_.restore(std::string_view(held_).substr(0, keep_from));
    held_.erase(0, keep_from);
    return out;
}

std::string StreamRestorer::flush() {
    std::string out = vault_.restore(held_);
    held_.clear();
    return out;
}

using ojson = nlohmann::ordered_json;

void restore_chat_message(const Vault& vault, ojson& message) {
    if (!message.is_object()) return;
    if (auto c = message.find("content"); c != message.end() && c->is_string())
        *c = vault.restore(c->get<std::string>());
    for_each_tool_arguments(message, [&](ojson&, ojson& args) {
        ojson parsed = ojson::parse(args.get<std::string>(), nullptr, false);
        if (parsed.is_discarded()) {
            args = vault.restore(args.get<std::string>());
        } else {
            vault.restore(parsed);
            args = parsed.dump(-1, ' ', false, ojson::error_handler_t::replace);
        }
    });
}

StreamRestorer& ChunkRestorer::at(const std::string& key) {
    return held_.try_emplace(key, vault_).first->second;
}

void ChunkRestorer::restore(ojson& chunk) {
    if (!chunk.is_object()) return;
    auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array()) return;
    for (auto& c : *choices) {
        if (!c.is_object()) continue;
        const std::string idx = std::to_string(index_field(c));
        const auto fr = c.find("finish_reason");
        const bool last = fr != c.end() && !fr->is_null();
        if (auto text = c.find("text"); text != c.end() && text->is_string()) {  // a legacy completion
            auto& r = at("c" + idx);
            *text = r.push(text->get<std::string>()) + (last ? r.flush() : "");
            continue;
        }
        auto delta = c.find("delta");
        if (delta == c.end() || !delta->is_object()) continue;
        ojson& d = *delta;
        if (auto content = d.find("content"); content != d.end() && content->is_string()) {
            auto& r = at("c" + idx);
            *content = r.push(content->get<std::string>()) + (last ? r.flush() : "");
        } else if (last) {
            if (std::string rest = at("c" + idx).flush(); !rest.empty()) d["content"] = rest;
        }
        for_each_tool_arguments(d, [&](ojson& call, ojson& args) {
            auto& r = at("t" + idx + "." + std::to_string(index_field(call)));
            args = r.push(args.get<std::string>()) + (last ? r.flush() : "");
        });
        if (!last) continue;
        // Arguments still held back end with their calls.
        const std::string prefix = "t" + idx + ".";
        for (auto& [key, r] : held_) {
            if (key.rfind(prefix, 0) != 0) continue;
            const std::string rest = r.flush();
            if (rest.empty()) continue;
            if (!d.contains("tool_calls") || !d["tool_calls"].is_array()) d["tool_calls"] = ojson::array();
            d["tool_calls"].push_back(
                {{"index", std::stoi(key.substr(prefix.size()))}, {"function", {{"arguments", rest}}}});
        }
    }
}

}  // namespace tf::router
