// Documents across machines: a run submits its documents to a PostgreSQL queue (and may wait
// for their results), workers anywhere claim them with leases, compute them with the same code
// as a local run and store each result only while they still hold its lease. A worker killed
// or cut off loses nothing: its lease runs out and another worker takes the document (and its
// finished steps) over. Results are keyed exactly as in a local run, so they are bit-identical
// whichever worker computed them, and a local run finds them in the store.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "pipeline/run.h"

namespace tf::pipeline {

// Queues the documents of `o.inputs` in the PostgreSQL store `o.store_path`. With `wait`,
// then streams each result as it is stored (to standard output, or writes -o in input order
// at the end, with its manifest, as a local run would) until all are there or `stop`.
Result<RunSummary> enqueue_task(const std::string& model_path, const TaskConfig& task, const RunOptions& o, bool wait,
                                const std::atomic<bool>* stop);

struct WorkerOptions {
    std::string store_url;
    std::string name;                // in results, the ledger and pg_stat_activity; default host:pid
    std::vector<std::string> kinds;  // tasks taken; empty: all
    int parallel = 1;                // documents at once, each with its own context
    int threads_per_document = 1;
    double lease_seconds = 60;  // renewed every third of it while the document is computed
    double poll_seconds = 1.0;  // between looks at an empty queue
    int max_attempts = 10;      // a document whose workers all died this often is stored as an error
    bool until_empty = false;   // end when nothing of this model is queued or leased
    double watts_per_core = 15.0;
    bool progress = true;
    const std::atomic<bool>* stop = nullptr;  // set: finish the documents under way, take no new one
};

struct WorkerSummary {
    size_t computed = 0, errors = 0;
    size_t lost = 0;     // results not stored: the lease had gone to another worker
    size_t refused = 0;  // documents this worker reads differently than their submitter (given back)
    uint64_t tokens_in = 0, tokens_out = 0;
    double seconds = 0;
    double db_seconds = 0;  // waiting on the database, per document slot (comparable to seconds)
};

Result<WorkerSummary> run_worker(const std::string& model_path, const WorkerOptions& o);

}  // namespace tf::pipeline
