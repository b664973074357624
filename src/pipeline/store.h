// The job store: one row per (document content hash, task configuration) with the result or
// the error. Writing a result is atomic and the first writer wins, so a run killed at any
// moment and run again — or two runs at once — end with every document exactly once.
// SQLite serves one machine; PostgreSQL serves many, and adds a queue their workers share.
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

// A document waiting in a shared queue, with everything a worker on another machine needs:
// its bytes (kept in the database, so workers need no shared file system) and the task.
struct QueuedDocument {
    std::string doc_sha256, task_key, path, kind, model_sha256;
    std::string task_json;  // TaskConfig::to_json
    std::string bytes;
};

// A document a worker holds: nobody else computes it while the lease (renewed by heartbeats)
// runs, and only the holder of this lease can store its result.
struct ClaimedJob {
    int64_t id = 0;
    std::string lease;  // unique per claim: a reclaimed job gets a new one
    int attempts = 0;   // claims so far, this one included
    QueuedDocument doc;
};

class JobQueue {
  public:
    virtual ~JobQueue() = default;
    // Queues the documents whose (doc, task) is neither queued nor stored; how many it queued.
    virtual Result<int64_t> enqueue(const std::vector<QueuedDocument>& docs) = 0;
    // The oldest document for this model and one of `kinds` (all when empty) that is queued or
    // whose lease ran out, leased to `owner` for lease_seconds; none when nothing is waiting.
    virtual Result<std::optional<ClaimedJob>> claim(const std::string& owner, const std::string& model_sha256,
                                                    const std::vector<std::string>& kinds,
                                                    const std::vector<int64_t>& skip, double lease_seconds) = 0;
    // Extends the leases still held; how many were.
    virtual Result<int64_t> heartbeat(const std::vector<std::string>& leases, double lease_seconds) = 0;
    // Stores the result and finishes the job in one transaction, only while `job.lease` holds
    // it: false (nothing written) when the lease was lost to another worker.
    virtual Result<bool> complete(const ClaimedJob& job, const JobRecord& result) = 0;
    // Gives the job back to the queue at once (a worker that cannot or will not compute it).
    virtual Status release(const ClaimedJob& job) = 0;
    // Jobs for this model still queued or leased.
    virtual Result<int64_t> unfinished(const std::string& model_sha256) = 0;
    // The stored results among these (doc_sha256[i], task_key[i]), in one query.
    virtual Result<std::vector<JobRecord>> stored(const std::vector<std::string>& doc_sha256,
                                                  const std::vector<std::string>& task_key) = 0;
};

// SQLite in WAL mode at `path` (created with its folder when absent).
Result<std::unique_ptr<JobStore>> open_sqlite_store(const std::string& path);

bool is_postgres_url(const std::string& spec);  // postgresql://… or postgres://…
// A PostgreSQL job store (libpq connection URL); its schema is created or migrated on open.
// `name` shows in pg_stat_activity as the connection's application_name. With `wait`, a
// database not reachable yet is waited for (up to two minutes), as a worker service should.
Result<std::unique_ptr<JobStore>> open_postgres_store(const std::string& url, const std::string& name = "terraferma",
                                                      bool wait = false);
Result<std::unique_ptr<JobQueue>> open_postgres_queue(const std::string& url, const std::string& name = "terraferma",
                                                      bool wait = false);
// A store by its spec: a PostgreSQL URL, else a SQLite path.
Result<std::unique_ptr<JobStore>> open_store(const std::string& spec);

}  // namespace tf::pipeline
