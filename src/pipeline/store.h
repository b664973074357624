// The job store: one row per (document content hash, task configuration) with the result or
// the error. Writing a result is atomic and the first writer wins, so a run killed at any
// moment and run again — or two runs at once — end with every document exactly once.
// An interface, so that a PostgreSQL store can later serve several machines.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "util/result.h"

namespace tf::pipeline {

struct JobRecord {
    std::string doc_sha256, task_key, path;
    std::string status;  // "ok" or "error"
    std::string output;  // JSON text of the result (ok)
    std::string error;   // message (error)
};

class JobStore {
  public:
    virtual ~JobStore() = default;
    virtual Result<std::optional<JobRecord>> get(const std::string& doc_sha256, const std::string& task_key) = 0;
    virtual Status put(const JobRecord& record) = 0;  // keeps an existing record
};

// SQLite in WAL mode at `path` (created with its folder when absent).
Result<std::unique_ptr<JobStore>> open_sqlite_store(const std::string& path);

}  // namespace tf::pipeline
