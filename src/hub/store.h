// The local model store: content-addressed blobs plus one small manifest per name, so two names
// (a copy, a second tag) share one file and a half-written download never looks like a model.
//
//   ROOT/blobs/sha256-<hex>             model files, by the SHA-256 of their bytes
//   ROOT/blobs/sha256-<hex>.partial     a download in progress (resumable)
//   ROOT/manifests/<host>/<ns>/<repo>/<tag>.json
//   ROOT/views/<hex>/<file name>        links giving a split model's parts their file names
//
// ROOT is $TERRAFERMA_MODELS, else $XDG_DATA_HOME/terraferma/models, else
// ~/.local/share/terraferma/models. Every write lands by rename, so a crash leaves either the old
// state or the new one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hub/name.h"
#include "util/result.h"

namespace tf::hub {

struct StoredFile {
    std::string name;    // the file name it had at the source ("x-Q4_K_M-00001-of-00002.gguf")
    std::string digest;  // "sha256:<hex>"
    uint64_t size = 0;
};

struct Manifest {
    std::string name;               // canonical model name
    std::string source;             // where it came from: a URL, or "import FILE"
    std::vector<StoredFile> files;  // the GGUF (the parts of a split one, in order)
    // From an Ollama registry (its Go template renders conversations when the GGUF has no chat
    // template of its own: see registry_template_for), or a hub's licence file.
    std::string template_text, params_json, system, license;
    std::string created;  // UTC, ISO 8601

    uint64_t total_size() const;
};

using ByteProgress = std::function<void(uint64_t done, uint64_t total)>;

class Store {
  public:
    static std::string default_root();
    // Creates the directories when missing.
    static Result<Store> open(const std::string& root = "");

    const std::string& root() const { return root_; }
    std::string blob_path(const std::string& digest) const;     // digest "sha256:<hex>"
    std::string partial_path(const std::string& digest) const;  // its download in progress
    bool has_blob(const std::string& digest, uint64_t size) const;

    Result<std::optional<Manifest>> find(const ModelName& name) const;
    // Every manifest, sorted by name; unreadable ones are reported in problems.
    std::vector<Manifest> list(std::vector<std::string>* problems = nullptr) const;
    // Records a manifest whose blobs are all present.
    Status put(const ModelName& name, Manifest m);
    // Deletes the name; blobs no other name uses go too. Returns the bytes freed.
    Result<uint64_t> remove(const ModelName& name);
    Status copy(const ModelName& from, const ModelName& to);
    // The path to open: the blob itself, or for a split model the first part in a view directory
    // whose links carry the parts' names (the loader finds part k beside part 1 by name).
    Result<std::string> resolve(const ModelName& name) const;

    // Copies a GGUF into the store as blobs (every part, given the first of a split model),
    // hashing as it goes; the manifest names `name`. The original file is not touched.
    Result<Manifest> import_file(const std::string& path, const ModelName& name, const ByteProgress& progress = {});
    // Free bytes on the store's file system.
    uint64_t free_bytes() const;

    // Uploads (the server's POST /api/blobs): a fresh file name in the store for the bytes to
    // arrive in, and then their landing as blob `digest` — only if the bytes have that SHA-256
    // (else the file is deleted and the error names both digests).
    std::string upload_path() const;
    Status adopt_blob(const std::string& path, const std::string& digest);

  private:
    std::string root_;
    std::string manifest_file(const ModelName& name) const;
    void collect_garbage() const;
};

// "sha256:<64 lowercase hex>" check (digests come from servers too).
bool valid_digest(const std::string& digest);

// Resolves what a user gave as -m: an existing file is used as is; otherwise a model name is
// looked up in the store ("no such model" names both possibilities).
Result<std::string> resolve_model_argument(const std::string& text);

// The Go template of the registry a store file came from ("" for any other file): what renders a
// conversation for a model whose GGUF has no chat template of its own.
std::string registry_template_for(const std::string& model_path);

}  // namespace tf::hub
