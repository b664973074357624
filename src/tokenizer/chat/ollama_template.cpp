#include "tokenizer/chat/ollama_template.h"

#include <algorithm>
#include <cctype>

namespace tf::chat {

using Json = nlohmann::ordered_json;

namespace {

// Ollama's structs as the templates see them: Go field name → (JSON key, zero value).
const go::Fields& ollama_fields() {
    static const go::Fields f = {
        {"Role", {"role", ""}},
        {"Content", {"content", ""}},
        {"Thinking", {"thinking", ""}},
        {"Images", {"images", Json::array()}},
        {"ToolCalls", {"tool_calls", Json::array()}},
        {"ToolName", {"tool_name", ""}},
        {"ToolCallID", {"tool_call_id", ""}},
        {"ID", {"id", ""}},
        {"Function", {"function", Json::object()}},
        {"Index", {"index", 0}},
        {"Name", {"name", ""}},
        {"Arguments", {"arguments", Json::object()}},
        {"Type", {"type", ""}},
        {"Items", {"items", nullptr}},
        {"Description", {"description", ""}},
        {"Parameters", {"parameters", Json::object()}},
        {"Properties", {"properties", nullptr}},
        {"Required", {"required", Json::array()}},
        {"Enum", {"enum", Json::array()}},
        {"AnyOf", {"anyOf", Json::array()}},
        {"Defs", {"$defs", nullptr}},
    };
    return f;
}

bool empty_value(const Json& v) {
    return v.is_null() || ((v.is_string() || v.is_array() || v.is_object()) && v.empty());
}

std::string text_of(const Json& content) {
    if (content.is_string()) return content.get<std::string>();
    std::string s;
    if (content.is_array())
        for (const auto& part : content)
            if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
                part["text"].is_string())
                s += part["text"].get<std::string>();
    return s;
}

// An OpenAI-shaped message as Ollama's api.Message (omitempty fields left out).
Json to_message(const Json& m) {
    Json o = Json::object();
    o["role"] = m.is_object() && m.contains("role") && m["role"].is_string() ? m["role"].get<std::string>() : "";
    o["content"] = m.is_object() && m.contains("content") ? text_of(m["content"]) : "";
    if (!m.is_object()) return o;
    for (const char* k : {"thinking", "reasoning_content"})
        if (m.contains(k) && m[k].is_string() && !m[k].get<std::string>().empty()) {
            o["thinking"] = m[k];
            break;
        }
    if (m.contains("tool_calls") && m["tool_calls"].is_array() && !m["tool_calls"].empty()) {
        Json calls = Json::array();
        int64_t index = 0;
        for (const auto& c : m["tool_calls"]) {
            if (!c.is_object()) continue;
            const Json fn = c.contains("function") && c["function"].is_object() ? c["function"] : Json::object();
            Json call = Json::object();
            if (c.contains("id") && c["id"].is_string() && !c["id"].get<std::string>().empty()) call["id"] = c["id"];
            Json args = fn.contains("arguments") ? fn["arguments"] : Json::object();
            if (args.is_string()) args = Json::parse(args.get<std::string>(), nullptr, false);
            if (!args.is_object()) args = Json::object();
            call["function"] = {{"index", index++},
                                {"name", fn.contains("name") && fn["name"].is_string() ? fn["name"] : Json("")},
                                {"arguments", std::move(args)}};
            calls.push_back(std::move(call));
        }
        o["tool_calls"] = std::move(calls);
    }
    for (const char* k : {"tool_name", "name"})
        if (m.contains(k) && m[k].is_string() && !m[k].get<std::string>().empty()) {
            o["tool_name"] = m[k];
            break;
        }
    if (m.contains("tool_call_id") && m["tool_call_id"].is_string() && !m["tool_call_id"].get<std::string>().empty())
        o["tool_call_id"] = m["tool_call_id"];
    return o;
}

// A JSON Schema property as api.ToolProperty: its known keys in Go's field order, others dropped.
Json to_property(const Json& p) {
    Json o = Json::object();
    if (!p.is_object()) return o;
    if (p.contains("anyOf") && p["anyOf"].is_array()) {
        Json any = Json::array();
        for (const auto& a : p["anyOf"]) any.push_back(to_property(a));
        if (!any.empty()) o["anyOf"] = std::move(any);
    }
    if (p.contains("type")) {
        const Json& t = p["type"];
        if (t.is_array() && t.size() == 1)
            o["type"] = t[0];
        else if (!empty_value(t))
            o["type"] = t;
    }
    for (const char* k : {"items", "description", "enum"})
        if (p.contains(k) && !empty_value(p[k])) o[k] = p[k];
    if (p.contains("properties") && p["properties"].is_object() && !p["properties"].empty()) {
        Json props = Json::object();
        for (auto it = p["properties"].begin(); it != p["properties"].end(); ++it)
            props[it.key()] = to_property(it.value());
        o["properties"] = std::move(props);
    }
    if (p.contains("required") && !empty_value(p["required"])) o["required"] = p["required"];
    return o;
}

// An OpenAI tool as api.Tool.
Json to_tool(const Json& t) {
    Json o = Json::object();
    o["type"] = t.is_object() && t.contains("type") && t["type"].is_string() ? t["type"] : Json("function");
    if (t.is_object() && t.contains("items") && !empty_value(t["items"])) o["items"] = t["items"];
    const Json fn =
        t.is_object() && t.contains("function") && t["function"].is_object() ? t["function"] : Json::object();
    Json f = Json::object();
    f["name"] = fn.contains("name") && fn["name"].is_string() ? fn["name"] : Json("");
    if (fn.contains("description") && fn["description"].is_string() && !fn["description"].get<std::string>().empty())
        f["description"] = fn["description"];
    const Json ps = fn.contains("parameters") && fn["parameters"].is_object() ? fn["parameters"] : Json::object();
    Json params = Json::object();
    params["type"] = ps.contains("type") && ps["type"].is_string() ? ps["type"] : Json("");
    for (const char* k : {"$defs", "items", "required"})
        if (ps.contains(k) && !empty_value(ps[k])) params[k] = ps[k];
    if (ps.contains("properties") && ps["properties"].is_object()) {
        Json props = Json::object();
        for (auto it = ps["properties"].begin(); it != ps["properties"].end(); ++it)
            props[it.key()] = to_property(it.value());
        params["properties"] = std::move(props);
    } else {
        params["properties"] = nullptr;
    }
    f["parameters"] = std::move(params);
    o["function"] = std::move(f);
    return o;
}

bool contains(const std::vector<std::string>& v, const char* s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

bool is_go_template(const std::string& source) {
    if (source.find("{%") != std::string::npos) return false;
    // A field inside an action, after "{{", "{{-", a space, "(", "|" or "$": {{ .X }},
    // {{ range $i, $m := .Messages }}, {{ $.Tools }}. Jinja writes m.content, never " .content".
    for (size_t open = source.find("{{"); open != std::string::npos; open = source.find("{{", open + 2)) {
        const size_t close = source.find("}}", open + 2);
        const size_t end = close == std::string::npos ? source.size() : close;
        for (size_t i = open + 2; i + 1 < end; ++i) {
            const unsigned char next = static_cast<unsigned char>(source[i + 1]);
            if (source[i] != '.' || !(std::isalpha(next) || next == '_')) continue;
            const char prev = source[i - 1];
            if (prev == '{' || prev == '-' || prev == '(' || prev == '|' || prev == '$' || prev == ' ' ||
                prev == '\t' || prev == '\n' || prev == '\r')
                return true;
        }
    }
    return false;
}

Result<OllamaTemplate> OllamaTemplate::parse(const std::string& source) {
    // Ollama normalises line endings of the templates it ships; a registry's are used as sent.
    auto t = go::Template::parse(source);
    if (!t) return t.error();
    OllamaTemplate o;
    o.template_ = std::move(t.value());
    const auto vars = o.template_.identifiers();
    o.whole_conversation_ = contains(vars, "messages") || contains(vars, "document");
    if (!contains(vars, "messages") && !contains(vars, "response")) o.template_.append_field("Response");
    return o;
}

Result<std::string> OllamaTemplate::apply(const Json& messages, const std::optional<Json>& tools, bool think,
                                          bool think_set) const {
    // Ollama's collate: every system message joined into .System; a run of one role merged.
    std::vector<std::string> systems;
    Json collated = Json::array();
    if (messages.is_array()) {
        for (const auto& raw : messages) {
            Json m = to_message(raw);
            const std::string role = m["role"].get<std::string>();
            if (role == "system") systems.push_back(m["content"].get<std::string>());
            if (!collated.empty() && collated.back()["role"] == role && role != "tool") {
                collated.back()["content"] =
                    collated.back()["content"].get<std::string>() + "\n\n" + m["content"].get<std::string>();
            } else {
                collated.push_back(std::move(m));
            }
        }
    }
    std::string system;
    for (size_t i = 0; i < systems.size(); ++i) system += (i ? "\n\n" : "") + systems[i];

    if (whole_conversation_) {
        Json tool_list = Json::array();
        if (tools && tools->is_array())
            for (const auto& t : *tools) tool_list.push_back(to_tool(t));
        Json data = {{"System", system}, {"Messages", collated}, {"Tools", tool_list},
                     {"Response", ""},   {"Think", think},       {"IsThinkSet", think_set},
                     {"Query", ""},      {"Document", ""},       {"Instruction", ""}};
        return template_.execute(data, &ollama_fields());
    }

    // Turn by turn: each finished exchange rendered whole, the last one cut after .Response.
    std::string out, prompt, response;
    system.clear();
    auto turn = [&](const go::Template& t) -> Status {
        Json data = {{"System", system},
                     {"Prompt", prompt},
                     {"Response", response},
                     {"Think", think},
                     {"IsThinkSet", think_set}};
        auto r = t.execute(data, &ollama_fields());
        if (!r) return r.error();
        out += *r;
        system.clear();
        prompt.clear();
        response.clear();
        return {};
    };
    for (const auto& m : collated) {
        const std::string role = m["role"].get<std::string>();
        const std::string content = m["content"].get<std::string>();
        if (role == "system") {
            if (!prompt.empty() || !response.empty())
                if (auto s = turn(template_); !s) return s.error();
            system = content;
        } else if (role == "user") {
            if (!response.empty())
                if (auto s = turn(template_); !s) return s.error();
            prompt = content;
        } else if (role == "assistant") {
            response = content;
        }
    }
    if (auto s = turn(template_.cut_after_field("Response")); !s) return s.error();
    return out;
}

}  // namespace tf::chat
