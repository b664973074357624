#include "api/affinity.h"

#include <span>

#include "util/sha256.h"

namespace tf::api {

std::string prefix_affinity(const nlohmann::ordered_json& body) {
    if (!body.is_object()) return {};
    std::string key;
    if (const auto m = body.find("model"); m != body.end() && m->is_string()) key = m->get<std::string>();
    key.push_back('\0');
    bool any = false;
    if (const auto s = body.find("system"); s != body.end() && s->is_string()) {
        key += s->get<std::string>();
        any = true;
    }
    if (const auto msgs = body.find("messages"); msgs != body.end() && msgs->is_array()) {
        for (const auto& m : *msgs) {
            const auto role = m.is_object() ? m.find("role") : m.end();
            if (!m.is_object() || role == m.end() || !role->is_string() || (*role != "system" && *role != "developer"))
                break;
            key.push_back('\0');
            key += m.contains("content")
                       ? m["content"].dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                       : std::string();
            any = true;
        }
    }
    if (!any) return {};
    return sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key.data()), key.size())).substr(0, 16);
}

}  // namespace tf::api
