// libFuzzer target for what a remote tier sends back: its answer is another machine's bytes,
// judged (schema, tool calls, confidence) and restored (placeholders back to values, whole and
// chunk by chunk) before anything reaches the client. Any JSON of any shape must be judged or
// left alone — no exception, no crash.
#include <cstdint>
#include <string_view>

#include "router/answer_check.h"
#include "router/redact.h"

namespace {

using ojson = nlohmann::ordered_json;

const ojson& request() {
    static const ojson r = ojson::parse(R"({
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": {
            "type": "object", "properties": {"total": {"type": "number", "minimum": 0}}, "required": ["total"]}}},
        "tools": [{"type": "function", "function": {"name": "pay",
            "parameters": {"type": "object", "properties": {"iban": {"type": "string"}}, "required": ["iban"]}}}]})");
    return r;
}

const tf::router::Vault& vault() {
    static const tf::router::Vault v = [] {
        tf::router::Vault v;
        const std::string text = "IBAN DE89370400440532013000 and mail a@b.example";
        v.redact(text, {{"iban", 5, 27}, {"email", 37, 48}}, text);
        return v;
    }();
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 3;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        if (mode == 2) {
            // A stream: one chunk per line.
            tf::router::ChunkRestorer restorer(vault());
            size_t at = 0;
            while (at <= text.size()) {
                const size_t nl = std::min(text.find('\n', at), text.size());
                ojson chunk = ojson::parse(text.substr(at, nl - at), nullptr, false);
                if (!chunk.is_discarded()) restorer.restore(chunk);
                at = nl + 1;
            }
            return 0;
        }
        ojson answer = ojson::parse(text, nullptr, false);
        if (answer.is_discarded()) return 0;
        if (mode == 0) {
            tf::router::Escalation e;
            e.min_mean_logprob = -1.0;
            e.min_token_logprob = -5.0;
            (void)tf::router::answer_problem(request(), answer, e);
        } else {
            tf::router::restore_chat_message(vault(), answer);
        }
    } catch (const std::exception&) {
        __builtin_trap();  // an exception here would be a 500 (or worse, through libcurl's callback)
    }
    return 0;
}
