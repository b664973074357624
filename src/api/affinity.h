// A request's prefix identity, for load balancers that keep requests sharing a prompt prefix on
// the server that has it cached (serve answers it as the x-terraferma-prefix header; clients
// send it back as X-Terraferma-Prefix, and deploy/haproxy.cfg hashes on that header).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tf::api {

// 16 hex digits of SHA-256 over the model and the system part of the prompt (the leading
// system/developer messages, or Ollama's "system"); empty when the request has no system part
// (then the prefix a server caches is the template's alone, the same everywhere).
std::string prefix_affinity(const nlohmann::ordered_json& body);

}  // namespace tf::api
