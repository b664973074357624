// Writing the api layer's answers and errors onto HTTP responses (internal to server/).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/answer_json.h"
#include "api/error.h"
#include "api/ollama_response.h"
#include "api/openai_response.h"
#include "api/request_json.h"
#include "api/service.h"
#include "server/http/server.h"

namespace tf::server {

using ojson = nlohmann::ordered_json;
using api::dump;
using api::Service;

// A whole answer; a client told to come back later learns when.
inline void send(http::Response& res, const api::Reply& r) {
    res.status = r.status;
    if (r.status == 503) res.set_header("Retry-After", "1");
    res.set_content(dump(r.body), "application/json");
}
inline void send_openai_error(http::Response& res, const api::Error& e) {
    send(res, api::openai::failure(e));
}
inline void send_ollama_error(http::Response& res, const api::Error& e) {
    send(res, api::ollama::failure(e));
}

// An error the transport or the gate decides by status (401, 403, 405, 408, 413, 431, 503…),
// in the error shape of the API the path belongs to.
inline void send_status_error(const http::Request& req, http::Response& res, int status, const std::string& message) {
    if (req.path.rfind("/api/", 0) == 0) {
        send(res, {status, ojson{{"error", message}}});
        return;
    }
    const char* type = status == 401   ? "authentication_error"
                       : status == 403 ? "permission_error"
                       : status == 404 ? "not_found_error"
                       : status == 503 ? "server_overloaded"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    send(res,
         {status, ojson{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}}});
}

}  // namespace tf::server
