// Reproducibility manifests: everything that decides a run's results — the model's SHA-256,
// the engine version, the task configuration with its prompt, the decoding parameters — and,
// per document, the input's and the output's SHA-256. `verify` re-runs every document from
// scratch and reports any output that differs (none, by the engine's determinism) or a model
// file that is not the one recorded.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/tasks.h"
#include "util/result.h"

namespace tf::pipeline {

// Bumped whenever the same inputs can give other outputs (0.2.0: jump-forward in constrained decoding).
inline constexpr const char* kEngineVersion = "terraferma 0.2.0";

struct ManifestDocument {
    std::string path, sha256, status, output_sha256;
};

nlohmann::ordered_json make_manifest(const std::string& model_path, const std::string& model_sha256, const TaskConfig& task,
                                     const std::vector<ManifestDocument>& docs);

struct VerifyReport {
    size_t documents = 0, identical = 0, skipped = 0;
    std::vector<std::string> problems;  // one line each
};

// Re-runs the manifest's documents (fresh contexts, no job store) and compares.
Result<VerifyReport> verify_manifest(const nlohmann::ordered_json& manifest, int threads, bool progress);

std::string sha256_of(const std::string& bytes);

}  // namespace tf::pipeline
