#include "router/answer_check.h"

#include <cstdio>

#include "router/json_fields.h"
#include "sampling/jsonschema/validator.h"

namespace tf::router {

namespace {

using ojson = nlohmann::ordered_json;

std::optional<std::string> schema_problem(const ojson& schema, const std::string& answer, const std::string& what) {
    const ojson doc = ojson::parse(answer, nullptr, false);
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
    const ojson* tools = field(request, "tools");
    if (tools == nullptr || !tools->is_array()) return nullptr;
    static const ojson kAny = ojson::object();
    for (const auto& t : *tools) {
        const ojson* f = field(t, "function");
        if (f == nullptr) f = &t;
        if (text_field(*f, "name") != name) continue;
        const ojson* p = field(*f, "parameters");
        return p != nullptr ? p : &kAny;
    }
    return nullptr;
}

}  // namespace

std::optional<std::string> answer_problem(const ojson& request, const ojson& answer, const Escalation& e) {
    const ojson* choices = field(answer, "choices");
    if (choices == nullptr || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
        return "the answer has no choices";
    const ojson& choice = (*choices)[0];
    static const ojson kNone = ojson::object();
    const ojson* m = field(choice, "message");
    const ojson& message = m != nullptr && m->is_object() ? *m : kNone;
    if (e.schema) {
        if (text_field(choice, "finish_reason") == "schema_violation") {
            std::string first;
            const ojson* v = field(choice, "violations");
            if (v != nullptr && v->is_array() && !v->empty())
                first = " " + text_field((*v)[0], "path") + " " + text_field((*v)[0], "keyword") + ": " +
                        text_field((*v)[0], "message");
            return "schema: the answer violates its contract" + first;
        }
        const ojson* rf = field(request, "response_format");
        const std::string kind = rf != nullptr ? text_field(*rf, "type") : "";
        const std::string content = text_field(message, "content");
        const ojson* js = rf != nullptr ? field(*rf, "json_schema") : nullptr;
        const ojson* schema = js != nullptr ? field(*js, "schema") : nullptr;
        if (kind == "json_schema" && schema != nullptr) {
            if (auto p = schema_problem(*schema, content, "the answer")) return p;
        } else if (kind == "json_object") {
            const ojson doc = ojson::parse(content, nullptr, false);
            if (doc.is_discarded() || !doc.is_object()) return "schema: the answer is not a JSON object";
        }
        const ojson* calls = field(message, "tool_calls");
        if (calls != nullptr && calls->is_array()) {
            for (const auto& call : *calls) {
                const ojson* f = field(call, "function");
                const std::string name = f != nullptr ? text_field(*f, "name") : "";
                const ojson* params = tool_parameters(request, name);
                if (params == nullptr)
                    return "tools: the answer calls '" + name + "', which the request does not offer";
                const ojson* args = f != nullptr ? field(*f, "arguments") : nullptr;
                const std::string a = args != nullptr && args->is_string() ? args->get<std::string>() : "{}";
                if (auto p = schema_problem(*params, a, "the arguments of " + name)) return p;
            }
        }
    }
    if (e.min_mean_logprob || e.min_token_logprob) {
        const ojson* lp = field(choice, "logprobs");
        const ojson* content = lp != nullptr ? field(*lp, "content") : nullptr;
        if (content == nullptr || !content->is_array() || content->empty())
            return std::nullopt;  // a tier that gives none is judged on the rest
        double sum = 0, lowest = 0;
        size_t n = 0;
        for (const auto& t : *content) {
            const ojson* x = field(t, "logprob");
            if (x == nullptr || !x->is_number()) continue;
            const double v = x->get<double>();
            sum += v;
            lowest = n == 0 ? v : std::min(lowest, v);
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
