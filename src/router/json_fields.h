// Reading JSON that another machine wrote (a remote tier's answer): any shape is possible, so
// every read checks the type, and a field of the wrong type reads as absent — never an
// exception (nlohmann's value() throws on a wrong type).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace tf::router {

inline const nlohmann::ordered_json* field(const nlohmann::ordered_json& o, const char* key) {
    if (!o.is_object()) return nullptr;
    const auto it = o.find(key);
    return it == o.end() ? nullptr : &*it;
}
inline nlohmann::ordered_json* field(nlohmann::ordered_json& o, const char* key) {
    if (!o.is_object()) return nullptr;
    const auto it = o.find(key);
    return it == o.end() ? nullptr : &*it;
}
inline std::string text_field(const nlohmann::ordered_json& o, const char* key) {
    const auto* f = field(o, key);
    return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}
inline uint64_t count_field(const nlohmann::ordered_json& o, const char* key) {
    const auto* f = field(o, key);
    return f != nullptr && f->is_number_unsigned() ? f->get<uint64_t>() : 0;
}
inline int index_field(const nlohmann::ordered_json& o) {
    const auto* f = field(o, "index");
    return f != nullptr && f->is_number_integer() ? f->get<int>() : 0;
}
// Each string "arguments" of a message's or delta's tool calls.
template <typename F>
void for_each_tool_arguments(nlohmann::ordered_json& message, F&& f) {
    auto* calls = field(message, "tool_calls");
    if (calls == nullptr || !calls->is_array()) return;
    for (auto& call : *calls) {
        auto* fn = field(call, "function");
        auto* args = fn != nullptr ? field(*fn, "arguments") : nullptr;
        if (args != nullptr && args->is_string()) f(call, *args);
    }
}

}  // namespace tf::router
