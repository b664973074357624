// Pieces of an answer both protocols write the same way: why it ended, its violations, its
// tokens' log-probabilities, timestamps.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace tf::api {

using ojson = nlohmann::ordered_json;

// A whole answer: its HTTP status and body (the response, or the protocol's error object).
struct Reply {
    int status = 200;
    ojson body;
};

// Serialized for the wire: invalid UTF-8 in model output is replaced rather than thrown on.
std::string dump(const ojson& j);

int64_t unix_now();
std::string iso_now();

// How many times a non-streamed answer failing a gap keyword is drawn again
// (GenerateOptions::resample); a streamed answer cannot be taken back, it is reported instead.
constexpr int kResampleDraws = 2;

// Why an answer ended, as the APIs say it: "length" when the limit cut it off, "cancelled"
// when --timeout or the client ended it, else "stop" — or "schema_violation" when it does not
// satisfy what the request asked (response_format, a tool's parameters, format); its violations
// are then listed beside (add_violations). An answer is never a plain "stop" unless it was
// checked and found valid.
const char* finish_reason(const engine::JobEvent& e);
// Adds "violations": [{"path","keyword","message"}] to a choice (OpenAI) or final object
// (Ollama) when there are any.
void add_violations(ojson& j, const engine::JobEvent& e);

// Generated tokens as both APIs list them: [{token, logprob, bytes, top_logprobs: [{token,
// logprob, bytes}]}] (OpenAI's choices[].logprobs.content, Ollama's "logprobs").
ojson logprob_entries(const tok::Tokenizer& t, const std::vector<sampling::TokenLogprob>& lps);

// The request's "tools" when it has a non-empty list.
const ojson* request_tools(const ojson& body);

}  // namespace tf::api
