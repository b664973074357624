#include "api/openai_request.h"

#include "api/answer_json.h"
#include "api/params.h"

namespace tf::api::openai {

namespace {

// Chat: "logprobs" true/false and "top_logprobs" 0..20 (only with logprobs); completions:
// "logprobs" null or 0..20 alternatives. Sets options.logprobs (-1: none).
Status logprob_options(const ojson& body, Endpoint endpoint, engine::GenerateOptions& o) {
    o.logprobs = -1;
    auto lp = body.find("logprobs");
    const bool has_lp = lp != body.end() && !lp->is_null();
    if (endpoint == Endpoint::Chat) {
        if (has_lp && !lp->is_boolean()) return bad_request("'logprobs' must be a boolean", "logprobs");
        const bool on = has_lp && lp->get<bool>();
        int top = 0;
        if (auto t = body.find("top_logprobs"); t != body.end() && !t->is_null()) {
            if (!t->is_number_integer() || t->get<int64_t>() < 0 || t->get<int64_t>() > 20)
                return bad_request("'top_logprobs' must be an integer from 0 to 20", "top_logprobs");
            if (!on) return bad_request("'top_logprobs' needs 'logprobs': true", "top_logprobs");
            top = t->get<int>();
        }
        if (on) o.logprobs = top;
        return {};
    }
    if (has_lp) {
        if (!lp->is_number_integer() || lp->get<int64_t>() < 0 || lp->get<int64_t>() > 20)
            return bad_request("'logprobs' must be an integer from 0 to 20", "logprobs");
        o.logprobs = lp->get<int>();
    }
    return {};
}

// The tool-call contract tool_choice asks for; null when the answer is free (or when a
// response_format decides it instead).
Result<Service::Contract> tool_contract(const Service& svc, const ojson& body) {
    const ojson* tools = active_tools(body);
    if (tools == nullptr) return Service::Contract{};
    const ojson choice = body.value("tool_choice", ojson("auto"));
    const Error wrong = bad_request("tool_choice must be auto, none, required or a function", "tool_choice");
    std::string only;
    bool forced = false;
    if (choice.is_string()) {
        const std::string c = choice.get<std::string>();
        if (c == "required")
            forced = true;
        else if (c != "auto" && c != "none")
            return wrong;
    } else if (choice.is_object() && choice.contains("function") && choice["function"].is_object() &&
               choice["function"].contains("name") && choice["function"]["name"].is_string()) {
        forced = true;
        only = choice["function"]["name"].get<std::string>();
    } else {
        return wrong;
    }
    const auto format = body.find("response_format");
    const bool wants_format = format != body.end() && format->is_object() && format->value("type", "text") != "text";
    if (!forced && !(choice == "auto" && !wants_format)) return Service::Contract{};
    // Forced: the answer must be calls, in the grammar of this model's tool-call syntax.
    // Auto: free text, but a call the model starts (its syntax's marker) must be well formed.
    // Either way each call's arguments are checked against its tool's parameters.
    engine::ToolChoice tc;
    tc.syntax = svc.tool_syntax();
    tc.forced = forced;
    tc.parallel = body.value("parallel_tool_calls", ojson(true)) != false && only.empty();
    tc.only = only;
    return svc.tools_contract(*tools, tc);
}

// The contract response_format asks for, given the tools' (`tools`, maybe null).
Result<Service::Contract> format_contract(const Service& svc, const ojson& body, const Service::Contract& tools) {
    auto it = body.find("response_format");
    if (it == body.end() || it->is_null() || (tools && it->is_object() && it->value("type", "") == "text"))
        return tools;
    if (tools) return bad_request("response_format cannot be combined with a forced tool_choice", "response_format");
    const std::string type = it->is_object() ? it->value("type", "") : "";
    if (type == "json_object") return svc.schema_contract(ojson{{"type", "object"}}, false);
    if (type == "json_schema") {
        const auto js = it->find("json_schema");  // a const object: [] on a missing key is undefined
        if (js == it->end() || !js->is_object() || !js->contains("schema"))
            return bad_request("response_format json_schema needs json_schema.schema", "response_format");
        // strict: true (OpenAI's structured outputs) accepts only what the grammar guarantees.
        return svc.schema_contract(js->at("schema"), js->value("strict", ojson(false)) == true);
    }
    if (type != "text")
        return bad_request("response_format.type must be text, json_object or json_schema", "response_format");
    return tools;
}

}  // namespace

Result<bool> stream_flag(const ojson& body) {
    auto it = body.find("stream");
    if (it == body.end() || it->is_null()) return false;
    if (!it->is_boolean()) return bad_request("'stream' must be a boolean", "stream");
    return it->get<bool>();
}

Result<int> choice_count(const ojson& body) {
    auto it = body.find("n");
    if (it == body.end() || it->is_null()) return 1;
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 16)
        return bad_request("'n' must be an integer from 1 to 16", "n");
    return it->get<int>();
}

const ojson* active_tools(const ojson& body) {
    if (body.contains("tool_choice") && body["tool_choice"] == "none") return nullptr;
    return request_tools(body);
}

bool parse_whole(const Service& svc, const ojson& body) {
    return active_tools(body) != nullptr || svc.tool_syntax() == engine::ToolSyntax::Harmony;
}

Result<engine::GenerationRequest> generation_request(const Service& svc, const ojson& body, Endpoint endpoint,
                                                     int index) {
    if (Status st = svc.check_generative(); !st) return st.error();
    const bool chat = endpoint == Endpoint::Chat;
    engine::GenerationRequest r;
    if (chat) {
        auto prompt = svc.render(body.value("messages", ojson()), request_tools(body));
        if (!prompt) return prompt.error();
        r.prompt = std::move(*prompt);
    } else {
        if (!body.contains("prompt") || !body["prompt"].is_string())
            return bad_request("'prompt' must be a string", "prompt");
        r.prompt = svc.tokenizer().encode(body["prompt"].get<std::string>(), true, false);
    }
    // A harmony model (gpt-oss) answers in channels marked by control tokens: keep their text so
    // that the answer, its reasoning and its tool calls can be told apart.
    r.options.render_special = chat && svc.tool_syntax() == engine::ToolSyntax::Harmony;
    if (Status st = openai_options(body, svc.model().hp.n_vocab, r.options); !st) return st.error();
    // A stored model's stop strings (its parameters layer) hold unless the request gives its own;
    // sampling keeps OpenAI's defaults.
    if (!body.contains("stop"))
        if (Status st = stop_option(svc.defaults().options, r.options.stop); !st) return st.error();
    if (!chat && !body.contains("max_tokens")) r.options.max_tokens = 16;  // OpenAI's default for completions
    r.options.resample = body.value("stream", ojson(false)) == true ? 0 : kResampleDraws;
    if (Status st = logprob_options(body, endpoint, r.options); !st) return st.error();
    auto tools = tool_contract(svc, body);
    if (!tools) return tools.error();
    auto contract = format_contract(svc, body, *tools);
    if (!contract) return contract.error();
    r.contract = std::move(*contract);
    r.options.sampling.seed += static_cast<uint64_t>(index);
    return r;
}

Result<Started> start(Service& svc, const ojson& body, Endpoint endpoint) {
    auto n = choice_count(body);
    if (!n) return n.error();
    Started s;
    for (int i = 0; i < *n; ++i) {
        auto r = generation_request(svc, body, endpoint, i);
        if (r) s.n_prompt = r->prompt.size();
        auto job = r ? svc.submit(std::move(*r)) : Result<std::shared_ptr<engine::Job>>(r.error());
        if (!job) {
            for (auto& j : s.jobs) j->cancel();
            return job.error();
        }
        s.jobs.push_back(std::move(*job));
    }
    return s;
}

}  // namespace tf::api::openai
