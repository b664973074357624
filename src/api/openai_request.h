// OpenAI's chat/completions and completions request bodies → engine requests: the rendered
// prompt, sampling options, logprobs and the output contract (response_format, tools).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "api/error.h"
#include "api/service.h"
#include "engine/scheduler.h"

namespace tf::api::openai {

using ojson = nlohmann::ordered_json;

enum class Endpoint { Chat, Completion };

// "stream" as a boolean (absent: false); a wrong type is the client's error, named.
Result<bool> stream_flag(const ojson& body);
// "n": how many choices to generate (1..16).
Result<int> choice_count(const ojson& body);
// The request's tools when it has any and tool_choice is not "none".
const ojson* active_tools(const ojson& body);
// Whether the answer is parsed whole at its end (tool calls, or a harmony model's channels)
// rather than passed on as it comes.
bool parse_whole(const Service& svc, const ojson& body);

// Choice `index` of a request as the engine runs it; it samples with seed + index, so every
// choice is reproducible on its own.
Result<engine::GenerationRequest> generation_request(const Service& svc, const ojson& body, Endpoint endpoint,
                                                     int index);

// The request's n choices, queued (they run together in the scheduler). When any cannot
// start, those already queued are cancelled.
struct Started {
    std::vector<std::shared_ptr<engine::Job>> jobs;
    size_t n_prompt = 0;
};
Result<Started> start(Service& svc, const ojson& body, Endpoint endpoint);

}  // namespace tf::api::openai
