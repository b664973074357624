#include "api/ollama_response.h"

namespace tf::api::ollama {

Reply failure(const Error& e) {
    return {http_status(e.kind), ojson{{"error", e.message}}};
}

ojson final_fields(const engine::JobEvent& e) {
    const auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
    ojson j = {{"done", true},
               {"done_reason", finish_reason(e)},
               {"total_duration", ns(e.timings.prompt_ms + e.timings.generate_ms)},
               {"load_duration", 0},
               {"prompt_eval_count", e.timings.n_prompt},
               {"prompt_eval_duration", ns(e.timings.prompt_ms)},
               {"eval_count", e.timings.n_generated},
               {"eval_duration", ns(e.timings.generate_ms)}};
    add_violations(j, e);
    return j;
}

ojson chat_piece(const std::string& model, const std::string& text) {
    return ojson{{"model", model}, {"created_at", iso_now()}, {"message", {{"role", "assistant"}, {"content", text}}}};
}

ojson chat_parsed(const std::string& model, engine::ToolSyntax syntax, const std::string& text) {
    const bool harmony = syntax == engine::ToolSyntax::Harmony;
    const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
    ojson j = chat_piece(model, a.calls.empty() && !harmony ? text : a.content);
    if (harmony && !a.reasoning.empty()) j["message"]["thinking"] = a.reasoning;
    if (!a.calls.empty()) {
        ojson calls = ojson::array();
        for (const auto& c : a.calls) calls.push_back({{"function", {{"name", c.name}, {"arguments", c.arguments}}}});
        j["message"]["tool_calls"] = calls;
    }
    return j;
}

ojson generate_piece(const std::string& model, const std::string& text) {
    return ojson{{"model", model}, {"created_at", iso_now()}, {"response", text}};
}

Reply embed(Service& svc, const ojson& body, std::chrono::steady_clock::time_point t0) {
    std::vector<std::string> inputs;
    const ojson input = body.value("input", ojson());
    if (input.is_string()) {
        inputs.push_back(input.get<std::string>());
    } else if (input.is_array() && !input.empty()) {
        for (const auto& x : input) {
            if (!x.is_string()) return failure(bad_request("'input' must be a string or an array of strings", "input"));
            inputs.push_back(x.get<std::string>());
        }
    } else {
        return failure(bad_request("'input' must be a string or a non-empty array of strings", "input"));
    }
    const ojson truncate_field = body.value("truncate", ojson(true));
    if (!truncate_field.is_boolean()) return failure(bad_request("'truncate' must be a boolean", "truncate"));
    const bool truncate = truncate_field.get<bool>();
    const auto max_tokens = static_cast<size_t>(svc.embedding_max_tokens());
    std::vector<std::vector<int32_t>> all;
    size_t tokens = 0;
    for (const auto& text : inputs) {
        std::vector<int32_t> ids = svc.tokenizer().encode(text, true, false);
        if (ids.size() > max_tokens) {
            if (!truncate) {
                return failure(bad_request("the input has " + std::to_string(ids.size()) +
                                               " tokens, more than the context of " + std::to_string(max_tokens) +
                                               " (truncate is false)",
                                           "input"));
            }
            ids.resize(max_tokens);
        }
        if (ids.empty()) return failure(bad_request("an input is empty", "input"));
        tokens += ids.size();
        all.push_back(std::move(ids));
    }
    auto vectors = svc.embed_many(all);
    if (!vectors) return failure({ErrorKind::Internal, vectors.error().message, ""});
    ojson embeddings = ojson::array();
    for (const auto& v : *vectors) embeddings.push_back(v);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    return {200, ojson{{"model", svc.model_name()},
                       {"embeddings", embeddings},
                       {"total_duration", ns},
                       {"load_duration", 0},
                       {"prompt_eval_count", tokens}}};
}

Reply embedding(Service& svc, const ojson& body) {
    if (!body.contains("prompt") || !body["prompt"].is_string())
        return failure(bad_request("'prompt' must be a string", "prompt"));
    std::vector<int32_t> ids = svc.tokenizer().encode(body["prompt"].get<std::string>(), true, false);
    if (ids.empty()) return {200, ojson{{"embedding", ojson::array()}}};
    const auto max_tokens = static_cast<size_t>(svc.embedding_max_tokens());
    if (ids.size() > max_tokens) ids.resize(max_tokens);
    auto v = svc.embed(ids);
    if (!v) return failure({ErrorKind::Internal, v.error().message, ""});
    return {200, ojson{{"embedding", *v}}};
}

}  // namespace tf::api::ollama
