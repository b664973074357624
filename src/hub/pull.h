// `pull`: a model by name from a Hugging Face-compatible hub or an Ollama registry into the
// store. Nothing here runs unless a user (or a server started with --allow-pull) asks for it.
//
// Hugging Face: the file list from GET {HF_ENDPOINT}/api/models/ORG/REPO/tree/main (paged by
// Link headers), the file chosen by its quantization tag (case-insensitive, as a whole token of
// the file name; Q4_K_M by default), every part of a split file, each checked against its LFS
// SHA-256; files from {HF_ENDPOINT}/ORG/REPO/resolve/main/PATH; HF_TOKEN for gated repositories.
// Ollama: the manifest from /v2/NS/MODEL/manifests/TAG, the GGUF layer and the small template,
// params, system and license layers from /v2/NS/MODEL/blobs/DIGEST, each checked by its digest.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "hub/http.h"
#include "hub/name.h"
#include "hub/store.h"

namespace tf::hub {

struct PullEvent {
    std::string status;  // Ollama's words: "pulling manifest", "pulling <digest>", "success", …
    std::string digest;  // set while a file downloads
    uint64_t total = 0, completed = 0;
};
using PullProgress = std::function<void(const PullEvent&)>;

struct PullOptions {
    bool insecure = false;  // plain HTTP to an Ollama registry (HF: give an http:// HF_ENDPOINT)
    HttpOptions http = HttpOptions::from_environment();
};

Result<Manifest> pull(const ModelName& name, Store& store, const PullOptions& opt, const PullProgress& progress = {});

// Picks the file for a quantization tag among a repository's files ("latest": the default
// preference); for a split file, every part in order. Exposed for tests.
Result<std::vector<std::string>> choose_gguf_files(const std::vector<std::string>& paths, const std::string& tag);
// The parts of the split set a file belongs to (all present in paths), or the file alone.
Result<std::vector<std::string>> expand_split(const std::string& pick, const std::vector<std::string>& paths);

}  // namespace tf::hub
