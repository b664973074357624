// The job store: one row per (document content hash, task configuration) with the result or
// the error. Writing a result is atomic and the first writer wins, so a run killed at any
// moment and run again — or two runs at once — end with every document exactly once.
// An interface, so that a PostgreSQL store can later serve several machines.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace tf::pipeline {

struct JobRecord {
    std::string doc_sha256, task_key, path;
    std::string status;  // "ok" or "error"
    std::string output;  // JSON text of the result (ok)
    std::string error;   // message (error)
};

// One run in the ledger, written when it starts and brought up to date as its work is done, so
// that a run killed in the middle still counts what it did.
struct RunRecord {
    int64_t id = 0;          // the ledger row; 0 until first recorded
    int64_t started_at = 0;  // unix seconds
    std::string task, model_sha256, model_name;
    int64_t documents = 0, computed = 0, errors = 0;
    int64_t tokens_in = 0, tokens_out = 0;                // the local model's
    int64_t remote_tokens_in = 0, remote_tokens_out = 0;  // remote tiers' (--route)
    double remote_usd = 0;                                // and what they cost at the endpoints' prices
    double wall_seconds = 0, cpu_seconds = 0, energy_wh = 0;
    std::string energy_source;  // "rapl" or "cpu-time x watts"
};

class JobStore {
  public:
    virtual ~JobStore() = default;
    virtual Result<std::optional<JobRecord>> get(const std::string& doc_sha256, const std::string& task_key) = 0;
    virtual Status put(const JobRecord& record) = 0;  // keeps an existing record
    // A step of a document's work (a chunk's answer), kept so that a killed run resumes a long
    // document where it stopped: the value of `step` for (doc_sha256, task_key), if stored.
    virtual Result<std::optional<std::string>> get_step(const std::string& doc_sha256, const std::string& task_key,
                                                        const std::string& step) = 0;
    virtual Status put_step(const std::string& doc_sha256, const std::string& task_key, const std::string& step,
                            const std::string& value) = 0;
    // Inserts the run (setting run.id) or, once it has an id, updates its row.
    virtual Status record_run(RunRecord& run) = 0;
    virtual Result<std::vector<RunRecord>> runs() = 0;
};

// SQLite in WAL mode at `path` (created with its folder when absent).
Result<std::unique_ptr<JobStore>> open_sqlite_store(const std::string& path);

}  // namespace tf::pipeline
