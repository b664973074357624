#include "api/openai_response.h"

#include <atomic>
#include <cstdio>

#include "api/answer_json.h"

namespace tf::api::openai {

namespace {

// OpenAI's tool_calls array for parsed calls.
ojson tool_calls_json(const std::vector<engine::ToolCall>& calls, const std::string& id_base, bool with_index) {
    ojson out = ojson::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        ojson c = {{"id", id_base + "-" + std::to_string(i)},
                   {"type", "function"},
                   {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments.dump()}}}};
        if (with_index) c["index"] = i;
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace

ojson error_body(const Error& e) {
    const char* type = [&] {
        switch (e.kind) {
            case ErrorKind::NotFound:
                return "not_found_error";
            case ErrorKind::Forbidden:
                return "permission_error";
            case ErrorKind::Upstream:
            case ErrorKind::Overloaded:
            case ErrorKind::Unavailable:
                return "server_overloaded";
            case ErrorKind::Timeout:
            case ErrorKind::Internal:
                return "server_error";
            default:
                return "invalid_request_error";
        }
    }();
    return {
        {"error",
         {{"message", e.message},
          {"type", type},
          {"param", e.param.empty() ? ojson(nullptr) : ojson(e.param)},
          {"code", e.kind == ErrorKind::NotFound && e.param == "model" ? ojson("model_not_found") : ojson(nullptr)}}}};
}

Reply failure(const Error& e) {
    return {http_status(e.kind), error_body(e)};
}

std::string new_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s-%016llx", prefix,
                  static_cast<unsigned long long>((static_cast<uint64_t>(unix_now()) << 20) ^ ++counter));
    return buf;
}

bool wants_usage(const ojson& body) {
    return body.contains("stream_options") && body["stream_options"].is_object() &&
           body["stream_options"].value("include_usage", ojson(false)) == true;
}
bool wants_chat_logprobs(const ojson& body) {
    return body.value("logprobs", ojson(false)) == true;
}
bool wants_completion_logprobs(const ojson& body) {
    return body.contains("logprobs") && !body["logprobs"].is_null();
}

ojson usage_json(const engine::Timings& t, size_t prompt_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", t.n_generated},
            {"total_tokens", prompt_tokens + static_cast<size_t>(t.n_generated)},
            {"prompt_tokens_details", {{"cached_tokens", t.n_reused}}}};
}

ojson usage_of(const std::vector<engine::JobEvent>& finals, size_t prompt_tokens) {
    engine::Timings t = finals.empty() ? engine::Timings{} : finals[0].timings;
    for (size_t i = 1; i < finals.size(); ++i) t.n_generated += finals[i].timings.n_generated;
    return usage_json(t, prompt_tokens);
}

ojson chat_logprobs(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps) {
    return {{"content", logprob_entries(t, lps)}, {"refusal", nullptr}};
}

ojson completion_logprobs(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps, size_t& offset) {
    ojson tokens = ojson::array(), values = ojson::array(), tops = ojson::array(), offsets = ojson::array();
    for (const auto& lp : lps) {
        const std::string piece = t.token_to_piece(lp.id, true);
        tokens.push_back(piece);
        values.push_back(lp.logprob);
        ojson top = ojson::object();
        for (const auto& [id, v] : lp.top) top[t.token_to_piece(id, true)] = v;
        tops.push_back(std::move(top));
        offsets.push_back(offset);
        offset += piece.size();
    }
    return {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

ojson chat_chunk(const std::string& id, int64_t created, const std::string& model, ojson choices) {
    return ojson{{"id", id},       {"object", "chat.completion.chunk"},  {"created", created},
                 {"model", model}, {"system_fingerprint", "terraferma"}, {"choices", std::move(choices)}};
}

ojson role_delta(int index) {
    return ojson::array({{{"index", index},
                          {"delta", {{"role", "assistant"}, {"content", ""}}},
                          {"logprobs", nullptr},
                          {"finish_reason", nullptr}}});
}

ojson content_delta(int index, const std::string& text, const engine::JobEvent* final, ojson logprobs) {
    ojson delta = final && text.empty() ? ojson::object() : ojson{{"content", text}};
    ojson choice = {{"index", index},
                    {"delta", std::move(delta)},
                    {"logprobs", std::move(logprobs)},
                    {"finish_reason", final ? ojson(finish_reason(*final)) : ojson(nullptr)}};
    if (final) add_violations(choice, *final);
    return ojson::array({std::move(choice)});
}

ojson completion_json(const std::string& id, int64_t created, const std::string& model, const std::string& text,
                      const engine::JobEvent* final, ojson logprobs) {
    ojson choice = {{"text", text},
                    {"index", 0},
                    {"logprobs", std::move(logprobs)},
                    {"finish_reason", final ? ojson(finish_reason(*final)) : ojson(nullptr)}};
    if (final) add_violations(choice, *final);
    return ojson{{"id", id},
                 {"object", "text_completion"},
                 {"created", created},
                 {"model", model},
                 {"choices", ojson::array({std::move(choice)})}};
}

ChatMessage chat_message(engine::ToolSyntax syntax, bool parse, const std::string& text, const engine::JobEvent& e,
                         const std::string& call_id_base) {
    ChatMessage m{{{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}, finish_reason(e)};
    if (!parse) return m;
    const bool harmony = syntax == engine::ToolSyntax::Harmony;
    const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
    if (harmony) {
        m.message["content"] = a.content;
        if (!a.reasoning.empty()) m.message["reasoning_content"] = a.reasoning;
    }
    if (!a.calls.empty()) {
        m.message["content"] = a.content.empty() ? ojson(nullptr) : ojson(a.content);
        m.message["tool_calls"] = tool_calls_json(a.calls, call_id_base, false);
        if (e.violations.empty()) m.finish = "tool_calls";
    }
    return m;
}

std::vector<ojson> chat_final_chunks(engine::ToolSyntax syntax, const std::string& text, const engine::JobEvent& e,
                                     const std::string& call_id_base, const std::function<ojson(ojson)>& wrap) {
    const engine::ParsedAnswer a = engine::parse_tool_calls(syntax, text);
    std::vector<ojson> out;
    auto choice = [&](ojson delta, ojson finish) {
        ojson c = {{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish}};
        if (!finish.is_null()) add_violations(c, e);
        return wrap(ojson::array({std::move(c)}));
    };
    const bool harmony = syntax == engine::ToolSyntax::Harmony;
    if (harmony && !a.reasoning.empty()) out.push_back(choice({{"reasoning_content", a.reasoning}}, nullptr));
    if (a.calls.empty()) {
        const std::string& content = harmony ? a.content : text;
        if (!content.empty()) out.push_back(choice({{"content", content}}, nullptr));
        out.push_back(choice(ojson::object(), finish_reason(e)));
    } else {
        if (!a.content.empty()) out.push_back(choice({{"content", a.content}}, nullptr));
        out.push_back(choice({{"tool_calls", tool_calls_json(a.calls, call_id_base, true)}}, nullptr));
        out.push_back(choice(ojson::object(), e.violations.empty() ? "tool_calls" : finish_reason(e)));
    }
    return out;
}

}  // namespace tf::api::openai
