// The OpenAI endpoints answered whole, as plain functions of a request body — no HTTP — so
// that the server's routes and `terraferma batch` (the OpenAI Batch file format, answered
// locally) give the same answers to the same requests.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "api/answer_json.h"
#include "api/service.h"

namespace tf::api::openai {

// Registers what to call if the client leaves before the answer (cancelling its generation).
using OnAbandon = std::function<void(std::function<void()>)>;

// Non-streaming answers ("stream" is ignored); `timeout_s` cancels a generation that runs
// longer and answers 504.
Reply chat_completion(Service& svc, const nlohmann::ordered_json& body, int timeout_s, const OnAbandon& abandon = {});
Reply completion(Service& svc, const nlohmann::ordered_json& body, int timeout_s, const OnAbandon& abandon = {});
Reply embeddings(Service& svc, const nlohmann::ordered_json& body);
Reply rerank(Service& svc, const nlohmann::ordered_json& body);

}  // namespace tf::api::openai
