// Reproducibility manifests: everything that decides a run's results — the model's SHA-256,
// the engine version, the task configuration with its prompt, the decoding parameters — and,
// per document, the input's SHA-256, its result's (or its error's) and that of the line written
// for it to the output file; the manifest's own digest covers all of it. `verify` checks the
// digest, reads the output file line by line, and re-runs every document from scratch: the same
// result, or the same error, is expected (by the engine's determinism); anything else — an
// edited output line, manifest, schema or prompt, another model — is reported.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/tasks.h"
#include "util/result.h"

namespace tf::pipeline {

struct ManifestDocument {
    std::string path, sha256, status;
    std::string output_sha256;  // of the result (ok) or of the error message without the path (error)
    std::string line_sha256;    // of the line written to the output file (without its newline)
    std::string tier;           // routed runs: the tier that made the result
    bool remote = false;        // a remote tier: not recomputable here
};

// `output`: the output file the lines went to ("" when standard output).
nlohmann::ordered_json make_manifest(const std::string& model_path, const std::string& model_sha256,
                                     const TaskConfig& task, const std::vector<ManifestDocument>& docs,
                                     const std::string& output = "");

struct VerifyReport {
    size_t documents = 0, identical = 0, skipped = 0;
    std::vector<std::string> problems;  // one line each
    std::vector<std::string> notes;     // what was not checked, and why
};

// Re-runs the manifest's documents (fresh contexts, no job store) and compares.
Result<VerifyReport> verify_manifest(const nlohmann::ordered_json& manifest, int threads, bool progress);

std::string sha256_of(const std::string& bytes);

}  // namespace tf::pipeline
