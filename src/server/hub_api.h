// The model store behind `serve`: any stored model can be requested by name, /api/tags and
// /v1/models list the store, /api/delete, /api/copy and /api/create (with /api/blobs for
// uploaded GGUFs, streamed to disk) manage it, and /api/pull fetches — only
// when the server was started with --allow-pull (a server must not download from the internet
// because a client asked). Names go through hub::parse_model_name: "../../etc/passwd" is a 400.
#pragma once

#include <string>

#include "server/http/server.h"
#include "server/model_pool.h"

namespace tf::server {

struct StoreAccess {
    std::string root;  // the store's directory ("" = the default)
    bool allow_pull = false;
    bool insecure_registries = false;  // plain HTTP to Ollama registries (a local mirror)
};

// A catalog serving the store's models under their display names ("llama3.2:1b").
ModelCatalog store_catalog(const StoreAccess& access);

void add_hub_routes(http::Server& srv, ModelPool& pool, const StoreAccess& access);

}  // namespace tf::server
