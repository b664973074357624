#include "pipeline/routed_task.h"

#include <cmath>

#include "pipeline/manifest.h"
#include "router/json_fields.h"
#include "sampling/jsonschema/validator.h"

namespace tf::pipeline {

namespace {

using ojson = nlohmann::ordered_json;

using router::count_field;
using router::field;

ojson label_schema(const std::vector<std::string>& labels) {
    return {{"type", "object"},
            {"properties", {{"label", {{"enum", labels}}}}},
            {"required", {"label"}},
            {"additionalProperties", false}};
}

// The loaded model as the route's local tier: the task's own run on the document, its result
// kept for the pipeline and shown to the router as a chat answer (classify's label probability
// as its log-probability, for the confidence thresholds).
class DocumentTier : public router::LocalTiers {
  public:
    DocumentTier(TaskRunner& runner, const TaskConfig& task, const Document& doc, const StepMemo* memo)
        : runner_(runner), task_(task), doc_(doc), memo_(memo) {}

    State state(router::Api, const std::string&, const ojson&) override { return {}; }  // long documents are chunked

    router::TierReply complete(router::Api, const std::string&, const ojson&) override {
        const uint64_t in0 = runner_.tokens_in(), out0 = runner_.tokens_out();
        result_ = runner_.run(doc_, memo_);
        ran_ = true;
        if (!result_) {
            return {422, ojson{{"error", {{"message", result_.error().message}, {"type", "invalid_request_error"}}}}};
        }
        const ojson& out = (*result_)["output"];
        std::string content;
        ojson logprobs = nullptr;
        if (task_.kind == "extract") {
            content = out.dump(-1, ' ', false, ojson::error_handler_t::replace);
        } else if (task_.kind == "classify") {
            content = ojson{{"label", out["label"]}}.dump();
            const double p = out["confidence"].get<double>();
            logprobs = {
                {"content", ojson::array({{{"token", out["label"]}, {"logprob", std::log(std::max(p, 1e-300))}}})}};
        } else {
            content = out.value("summary", "");
        }
        return {200, ojson{{"object", "chat.completion"},
                           {"choices", ojson::array({{{"index", 0},
                                                      {"message", {{"role", "assistant"}, {"content", content}}},
                                                      {"logprobs", logprobs},
                                                      {"finish_reason", "stop"}}})},
                           {"usage",
                            {{"prompt_tokens", runner_.tokens_in() - in0},
                             {"completion_tokens", runner_.tokens_out() - out0}}}}};
    }
    router::TierReply stream(router::Api api, const std::string& model, const ojson& request,
                             const std::function<bool(const ojson&)>&) override {
        return complete(api, model, request);  // documents are never streamed
    }

    bool ran() const { return ran_; }
    const Result<ojson>& result() const { return result_; }

  private:
    TaskRunner& runner_;
    const TaskConfig& task_;
    const Document& doc_;
    const StepMemo* memo_;
    bool ran_ = false;
    Result<ojson> result_ = Error{"not run"};
};

// A remote tier's answer as the task's result, judged as strictly as the local one.
Result<ojson> remote_result(const TaskConfig& task, const ojson& body, const std::string& tier) {
    const auto& choices = body.value("choices", ojson::array());
    if (!choices.is_array() || choices.empty() || !choices[0].contains("message"))
        return Error{"tier " + tier + " answered without a message"};
    const ojson& m = choices[0]["message"];
    const std::string content =
        m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
    if (task.kind == "summarize") {
        if (content.empty()) return Error{"tier " + tier + " wrote an empty summary"};
        return ojson{{"output", {{"summary", content}}}, {"chunks", 1}, {"reduce_rounds", 0}};
    }
    const ojson doc = ojson::parse(content, nullptr, false);
    if (doc.is_discarded()) return Error{"tier " + tier + "'s answer is not JSON"};
    const ojson schema = task.kind == "extract" ? task.schema : label_schema(task.labels);
    auto v = jsonschema::Validator::compile(schema, {.assert_formats = true});
    if (!v) return v.error();
    if (const auto errors = v->validate(doc); !errors.empty()) {
        return Error{"tier " + tier + "'s answer is not valid against the schema: " +
                     (errors[0].instance_path.empty() ? "/" : errors[0].instance_path) + " " + errors[0].keyword +
                     ": " + errors[0].message};
    }
    if (task.kind == "classify")
        return ojson{{"output", {{"label", doc["label"]}, {"confidence", nullptr}}}, {"chunks", 1}};
    return ojson{{"output", doc}, {"provenance", ojson::object()}, {"chunks", 1}};
}

}  // namespace

Result<ojson> run_routed(TaskRunner& runner, const TaskConfig& task, const Document& doc, const StepMemo* memo,
                         const RouteUse& use, RemoteSpend& spend) {
    ojson request = {{"model", use.route->name},
                     {"messages", ojson::array({{{"role", "user"}, {"content", task_prompt(task, doc.text)}}})},
                     {"max_tokens", task.max_output_tokens},
                     {"temperature", 0},
                     {"seed", 0}};
    if (task.kind == "extract" || task.kind == "classify") {
        request["response_format"] = {
            {"type", "json_schema"},
            {"json_schema",
             {{"name", task.kind}, {"schema", task.kind == "extract" ? task.schema : label_schema(task.labels)}}}};
    }
    DocumentTier local(runner, task, doc, memo);
    router::RequestInfo info;
    info.sensitive = use.sensitive;
    router::Routed r = use.router->answer(*use.route, std::move(request), info, local);
    if (r.remote && r.status == 200) {
        static const ojson kNone = ojson::object();
        const ojson* u = field(r.body, "usage");
        spend.tokens_in += count_field(u ? *u : kNone, "prompt_tokens");
        spend.tokens_out += count_field(u ? *u : kNone, "completion_tokens");
        spend.usd += r.cost_usd;
    }
    const ojson route = {{"tier", r.tier}, {"remote", r.remote}, {"reason", r.reason}};
    if (r.status == 200 && !r.remote && local.ran() && local.result()) {
        ojson result = *local.result();
        result["route"] = route;
        return result;
    }
    if (r.status == 200 && r.remote) {
        auto result = remote_result(task, r.body, r.tier);
        if (!result) return result.error();
        (*result)["route"] = route;
        return result;
    }
    // Nothing better than the local model's own failure: that error, as a run without the route
    // would give it (and `verify` recomputes it).
    if (local.ran() && !local.result()) return local.result().error();
    std::string message = "route " + use.route->name + ": ";
    const ojson* error = field(r.body, "error");
    const ojson* what = error != nullptr ? field(*error, "message") : nullptr;
    message += what != nullptr && what->is_string() ? what->get<std::string>() : "no tier could answer";
    return Error{message};
}

std::string route_key(const router::RouteConfig& config, const router::Route& route) {
    ojson k = {{"name", route.name}, {"privacy", router::policy_name(route.privacy)}};
    for (const auto& t : route.tiers) {
        ojson tier = {{"name", t.name}, {"remote", t.remote}};
        if (const auto* e = config.endpoint(t.name)) tier["endpoint"] = {{"url", e->url}, {"model", e->model}};
        k["tiers"].push_back(tier);
    }
    const auto& e = route.escalate;
    k["escalate"] = {{"schema", e.schema},
                     {"context", e.context},
                     {"min_mean_logprob", e.min_mean_logprob ? ojson(*e.min_mean_logprob) : ojson()},
                     {"min_token_logprob", e.min_token_logprob ? ojson(*e.min_token_logprob) : ojson()}};
    ojson guard = {{"regions", config.guard.phone_regions}};
    for (const auto& [name, re] : config.guard.patterns) guard["patterns"][name] = re;
    for (const auto& [name, words] : config.guard.dictionaries) guard["dictionaries"][name] = words;
    k["guard"] = guard;
    return route.name + ":" + sha256_of(k.dump(-1, ' ', false, ojson::error_handler_t::replace)).substr(0, 16);
}

}  // namespace tf::pipeline
