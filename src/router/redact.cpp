#include "router/redact.h"

#include <algorithm>
#include <cctype>

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

}  // namespace tf::router
