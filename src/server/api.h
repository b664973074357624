// Route registration of each API front end (internal to server/).
#pragma once

#include <httplib.h>

#include "server/http_server.h"
#include "server/model_pool.h"
#include "server/service.h"

namespace tf::server {

void add_openai_routes(httplib::Server& http, ModelPool& pool, const HttpOptions& opt);
void add_ollama_routes(httplib::Server& http, ModelPool& pool, const HttpOptions& opt);

}  // namespace tf::server
