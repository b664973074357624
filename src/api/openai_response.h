// The JSON shapes of OpenAI's answers: chat.completion(.chunk), text_completion, usage,
// logprobs, tool calls and the error object — what the official SDKs parse.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/answer_json.h"
#include "api/error.h"
#include "engine/scheduler.h"
#include "engine/tool_calls.h"
#include "tokenizer/tokenizer.h"

namespace tf::api::openai {

using ojson = nlohmann::ordered_json;

// {"error": {message, type, param, code}} of an error.
ojson error_body(const Error& e);
// An error as a whole answer: its status and error_body.
Reply failure(const Error& e);
// "chatcmpl-…" / "cmpl-…": unique within the process.
std::string new_id(const char* prefix);

bool wants_usage(const ojson& body);  // stream_options.include_usage
bool wants_chat_logprobs(const ojson& body);
bool wants_completion_logprobs(const ojson& body);

ojson usage_json(const engine::Timings& t, size_t prompt_tokens);
// Of n choices: the first's prompt, everyone's generated tokens.
ojson usage_of(const std::vector<engine::JobEvent>& finals, size_t prompt_tokens);

// choices[].logprobs of a chat completion (or of one chunk).
ojson chat_logprobs(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps);
// choices[].logprobs of a legacy completion; `offset` is the text length before these tokens,
// advanced past them.
ojson completion_logprobs(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps, size_t& offset);

// A chat.completion.chunk event around `choices`.
ojson chat_chunk(const std::string& id, int64_t created, const std::string& model, ojson choices);
// The first delta of choice `index`: its role.
ojson role_delta(int index);
// A content delta of choice `index`, or its finish when `final` (with the final event's text, if any).
ojson content_delta(int index, const std::string& text, const engine::JobEvent* final, ojson logprobs);
// A text_completion object (whole, or one streamed chunk) with one choice.
ojson completion_json(const std::string& id, int64_t created, const std::string& model, const std::string& text,
                      const engine::JobEvent* final, ojson logprobs = nullptr);

// The assistant message of a whole chat answer and its finish_reason: parsed into content,
// reasoning and tool calls when `parse` (tools asked, or a harmony model).
struct ChatMessage {
    ojson message;
    std::string finish;
};
ChatMessage chat_message(engine::ToolSyntax syntax, bool parse, const std::string& text, const engine::JobEvent& e,
                         const std::string& call_id_base);
// The last chunks of a streamed chat answer that was held back to be parsed whole: reasoning,
// content, tool calls, then the finish. `wrap` puts choices into a chunk.
std::vector<ojson> chat_final_chunks(engine::ToolSyntax syntax, const std::string& text, const engine::JobEvent& e,
                                     const std::string& call_id_base, const std::function<ojson(ojson)>& wrap);

}  // namespace tf::api::openai
