// The OpenAI endpoints as plain functions of a request body — no HTTP — so that the server's
// routes and `terraferma batch` (the OpenAI Batch file format, answered locally) give the same
// answers to the same requests.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "server/service.h"

namespace tf::server {

struct ApiResult {
    int status = 200;
    nlohmann::ordered_json body;  // the response, or OpenAI's error object
};

// Registers what to call if the client leaves before the answer (cancelling its generation).
using OnAbandon = std::function<void(std::function<void()>)>;

// Non-streaming answers ("stream" is ignored); `timeout_s` cancels a generation that runs longer.
ApiResult openai_chat_completion(Service& svc, const nlohmann::ordered_json& body, int timeout_s,
                                 const OnAbandon& abandon = {});
ApiResult openai_completion(Service& svc, const nlohmann::ordered_json& body, int timeout_s,
                            const OnAbandon& abandon = {});
ApiResult openai_embeddings(Service& svc, const nlohmann::ordered_json& body);
ApiResult openai_rerank(Service& svc, const nlohmann::ordered_json& body);

// OpenAI's error object for an ApiError.
nlohmann::ordered_json openai_error_body(const ApiError& e);

}  // namespace tf::server
