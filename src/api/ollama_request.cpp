#include "api/ollama_request.h"

#include "api/answer_json.h"
#include "api/params.h"

namespace tf::api::ollama {

namespace {

// What both endpoints share once the prompt is known: options, logprobs and "format".
Status fill(const Service& svc, const ojson& body, engine::GenerationRequest& r) {
    // The model's own defaults (its parameters layer) under what the request sets.
    ojson options = svc.defaults().options;
    const ojson asked = body.value("options", ojson());
    if (asked.is_object())
        for (auto it = asked.begin(); it != asked.end(); ++it) options[it.key()] = it.value();
    else if (!asked.is_null())
        options = asked;  // not an object: ollama_options names the mistake
    if (Status st = ollama_options(options.empty() ? ojson() : options, svc.model().hp.n_vocab, r.options); !st)
        return st;
    r.options.resample = streamed(body) ? 0 : kResampleDraws;
    // "logprobs": true and "top_logprobs" 0..20, as Ollama 0.12.11+ takes them.
    auto lp = body.find("logprobs");
    if (lp != body.end() && !lp->is_null() && !lp->is_boolean())
        return bad_request("'logprobs' must be a boolean", "logprobs");
    const bool on = lp != body.end() && lp->is_boolean() && lp->get<bool>();
    int top = 0;
    if (auto t = body.find("top_logprobs"); t != body.end() && !t->is_null()) {
        if (!t->is_number_integer() || t->get<int64_t>() < 0 || t->get<int64_t>() > 20)
            return bad_request("'top_logprobs' must be an integer from 0 to 20", "top_logprobs");
        top = t->get<int>();
    }
    r.options.logprobs = on ? top : -1;
    auto it = body.find("format");
    if (it == body.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty())) return {};
    Result<Service::Contract> c = Service::Contract{};
    if (it->is_string() && it->get<std::string>() == "json")
        c = svc.schema_contract(ojson{{"type", "object"}}, false);
    else if (it->is_object())
        c = svc.schema_contract(*it, false);
    else
        return bad_request("'format' must be \"json\" or a JSON schema", "format");
    if (!c) return c.error();
    r.contract = std::move(*c);
    return {};
}

}  // namespace

bool streamed(const ojson& body) {
    return body.value("stream", ojson(true)) != false;
}

Result<engine::GenerationRequest> chat_request(const Service& svc, const ojson& body) {
    if (Status st = svc.check_generative(); !st) return st.error();
    engine::GenerationRequest r;
    const ojson* tools = request_tools(body);
    auto prompt = svc.render(body.value("messages", ojson()), tools);
    if (!prompt) return prompt.error();
    r.prompt = std::move(*prompt);
    if (Status st = fill(svc, body, r); !st) return st.error();
    if (tools != nullptr && !r.contract) {
        // The model may answer in words or call tools; a call it starts is held to the call
        // grammar and its arguments checked against the tool's parameters.
        engine::ToolChoice tc;
        tc.syntax = svc.tool_syntax();
        auto c = svc.tools_contract(*tools, tc);
        if (!c) return c.error();
        r.contract = std::move(*c);
    }
    // A harmony model's channels are marked by control tokens (see openai::generation_request).
    r.options.render_special = svc.tool_syntax() == engine::ToolSyntax::Harmony;
    return r;
}

Result<engine::GenerationRequest> generate_request(const Service& svc, const ojson& body) {
    if (Status st = svc.check_generative(); !st) return st.error();
    engine::GenerationRequest r;
    const ojson p = body.value("prompt", ojson(""));
    if (!p.is_string()) return bad_request("'prompt' must be a string", "prompt");
    const std::string prompt = p.get<std::string>();
    if (body.value("raw", ojson(false)) == true) {
        r.prompt = svc.tokenizer().encode(prompt, true, false);
    } else {
        ojson messages = ojson::array();
        if (body.contains("system") && body["system"].is_string())
            messages.push_back({{"role", "system"}, {"content", body["system"]}});
        messages.push_back({{"role", "user"}, {"content", prompt}});
        auto rendered = svc.render(messages);
        if (!rendered) return rendered.error();
        r.prompt = std::move(*rendered);
    }
    if (Status st = fill(svc, body, r); !st) return st.error();
    return r;
}

}  // namespace tf::api::ollama
