// A new model name made from what the store already holds — Ollama's /api/create: a stored
// model (`from`) and/or GGUF blobs uploaded beforehand (`files`, by digest), with a template,
// system prompt, licence or parameters of its own. No bytes are copied: the new manifest points
// at the same blobs.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hub/name.h"
#include "hub/store.h"
#include "util/result.h"

namespace tf::hub {

struct CreateSpec {
    std::string from;                                        // a stored model's name, or ""
    std::vector<std::pair<std::string, std::string>> files;  // file name → "sha256:…" of a stored blob
    std::optional<std::string> template_text, system, license;
    std::string parameters_json;  // a JSON object; its keys replace the base model's
};

// status lines as Ollama streams them ("using existing layer sha256:…", "writing manifest").
using CreateProgress = std::function<void(const std::string& status)>;

// Errors: NotFound for a `from` or a blob the store does not have; Invalid for the rest.
Result<Manifest> create_model(Store& store, const ModelName& name, const CreateSpec& spec,
                              const CreateProgress& progress = {});

}  // namespace tf::hub
