#include "router/answer_check.h"

#include <cstdio>

#include "sampling/jsonschema/validator.h"

namespace tf::router {

namespace {

using ojson = nlohmann::ordered_json;

std::optional<std::string> schema_problem(const ojson& schema, const std::string& text, const std::string& what) {
    const ojson doc = ojson::parse(text, nullptr, false);
    if (doc.is_discarded()) return "schema: " + what + " is not JSON";
    auto v = jsonschema::Validator::compile(schema);
    if (!v) return "schema: " + what + "'s schema cannot be checked: " + v.error().message;
    const auto errors = v->validate(doc);
    if (errors.empty()) return std::nullopt;
    const auto& e = errors.front();
    return "schema: " + what + " " + (e.instance_path.empty() ? "/" : e.instance_path) + " " + e.keyword + ": " +
           e.message;
}

const ojson* tool_parameters(const ojson& request, const std::string& name) {
    const auto it = request.find("tools");
    if (it == request.end() || !it->is_array()) return nullptr;
    for (const auto& t : *it) {
        const ojson* f = t.contains("function") ? &t["function"] : &t;
        if (f->is_object() && f->value("name", "") == name) {
            static const ojson kAny = ojson::object();
            return f->contains("parameters") ? &(*f)["parameters"] : &kAny;
        }
    }
    return nullptr;
}

}  // namespace

std::optional<std::string> answer_problem(const ojson& request, const ojson& answer, const Escalation& e) {
    const auto ch = answer.find("choices");
    if (ch == answer.end() || !ch->is_array() || ch->empty() || !(*ch)[0].is_object())
        return "the answer has no choices";
    const ojson& choice = (*ch)[0];
    const ojson message = choice.value("message", ojson::object());
    const std::string finish = choice.contains("finish_reason") && choice["finish_reason"].is_string()
                                   ? choice["finish_reason"].get<std::string>()
                                   : "";
    if (e.schema) {
        if (finish == "schema_violation") {
            std::string first;
            if (choice.contains("violations") && choice["violations"].is_array() && !choice["violations"].empty()) {
                const ojson& v = choice["violations"][0];
                first = " " + v.value("path", "") + " " + v.value("keyword", "") + ": " + v.value("message", "");
            }
            return "schema: the answer violates its contract" + first;
        }
        const ojson rf = request.value("response_format", ojson::object());
        const std::string content =
            message.contains("content") && message["content"].is_string() ? message["content"].get<std::string>() : "";
        if (rf.is_object() && rf.value("type", "") == "json_schema" && rf.contains("json_schema") &&
            rf["json_schema"].is_object() && rf["json_schema"].contains("schema")) {
            if (auto p = schema_problem(rf["json_schema"]["schema"], content, "the answer")) return p;
        } else if (rf.is_object() && rf.value("type", "") == "json_object") {
            const ojson doc = ojson::parse(content, nullptr, false);
            if (doc.is_discarded() || !doc.is_object()) return "schema: the answer is not a JSON object";
        }
        if (message.contains("tool_calls") && message["tool_calls"].is_array()) {
            for (const auto& call : message["tool_calls"]) {
                const ojson f = call.value("function", ojson::object());
                const std::string name = f.value("name", "");
                const ojson* params = tool_parameters(request, name);
                if (params == nullptr)
                    return "tools: the answer calls '" + name + "', which the request does not offer";
                const std::string args =
                    f.contains("arguments") && f["arguments"].is_string() ? f["arguments"].get<std::string>() : "{}";
                if (auto p = schema_problem(*params, args, "the arguments of " + name)) return p;
            }
        }
    }
    if (e.min_mean_logprob || e.min_token_logprob) {
        const ojson lp = choice.value("logprobs", ojson());
        if (!lp.is_object() || !lp.contains("content") || !lp["content"].is_array() || lp["content"].empty())
            return std::nullopt;  // a tier that gives none is judged on the rest
        double sum = 0, lowest = 0;
        size_t n = 0;
        for (const auto& t : lp["content"]) {
            if (!t.is_object() || !t.contains("logprob") || !t["logprob"].is_number()) continue;
            const double x = t["logprob"].get<double>();
            sum += x;
            lowest = n == 0 ? x : std::min(lowest, x);
            ++n;
        }
        char buf[120];
        if (n > 0 && e.min_mean_logprob && sum / static_cast<double>(n) < *e.min_mean_logprob) {
            std::snprintf(buf, sizeof buf, "confidence: mean log-probability %.4g < %.4g", sum / static_cast<double>(n),
                          *e.min_mean_logprob);
            return std::string(buf);
        }
        if (n > 0 && e.min_token_logprob && lowest < *e.min_token_logprob) {
            std::snprintf(buf, sizeof buf, "confidence: a token's log-probability %.4g < %.4g", lowest,
                          *e.min_token_logprob);
            return std::string(buf);
        }
    }
    return std::nullopt;
}

}  // namespace tf::router
