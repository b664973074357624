// Route registration of each API front end (internal to server/).
#pragma once

#include "server/http/server.h"
#include "server/http_server.h"
#include "server/http_util.h"
#include "server/model_pool.h"

namespace tf::server {

void add_openai_routes(http::Server& srv, ModelPool& pool, const HttpOptions& opt);
void add_ollama_routes(http::Server& srv, ModelPool& pool, const HttpOptions& opt);
// A streamed chat answer of `held` set up on `res` (its server-sent events come from
// res.provider); an error when the request cannot be started.
api::Status stream_openai_chat(http::Response& res, std::shared_ptr<Service> held, const ojson& body, int timeout_s);
api::Status stream_openai_completion(http::Response& res, std::shared_ptr<Service> held, const ojson& body,
                                     int timeout_s);
// A request (chat, completion, embeddings) naming one of opt.router's routes, answered through
// it; false when the body names no route (the caller answers it as usual).
bool serve_routed(const http::Request& req, http::Response& res, ModelPool& pool, const HttpOptions& opt,
                  router::Api api);

}  // namespace tf::server
