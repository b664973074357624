// Running a task over many documents: inputs expanded (folders walked), each document looked
// up in the job store by content hash and task key, the missing ones computed by worker
// threads (each with its own context), every result stored the moment it is done, and the
// output written at the end in input order (atomically, when it is a file).
// Watching a folder: the same, round after round, for the files that arrive, with the output
// appended as documents finish.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/routed_task.h"
#include "pipeline/tasks.h"

namespace tf::pipeline {

struct RunOptions {
    std::vector<std::string> inputs;
    std::string output;            // JSONL file; empty: standard output
    std::string store_path;        // SQLite job store
    std::string manifest;          // where to write the run's manifest; empty: beside the output, or none
    double watts_per_core = 15.0;  // energy estimate when RAPL counters are not readable
    int workers = 1;
    int threads_per_worker = 1;
    bool progress = true;
    RouteUse route;  // --route: documents through a route's tiers (none when route.router is null)
};

struct RunSummary {
    size_t documents = 0, computed = 0, from_store = 0, errors = 0;
    uint64_t tokens_in = 0, tokens_out = 0;  // the local model's
    RemoteSpend remote;                      // remote tiers' tokens and price (--route)
    double seconds = 0, cpu_seconds = 0, energy_wh = 0;
    // Worker time inside the model and in total (per document: ingestion, chunking, model,
    // store); their difference is the pipeline's own overhead.
    double model_seconds = 0, worker_seconds = 0;
    std::string energy_source;
    std::string manifest_path;  // written, when not empty
};

// Files of the inputs: files as given, folders walked (sorted, hidden files skipped).
Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs);

Result<RunSummary> run_task(const std::string& model_path, const TaskConfig& task, const RunOptions& options);

struct WatchOptions {
    std::string inbox;
    std::string move_to;  // finished files are moved here; empty: left where they are
    double poll_seconds = 1.0;
    double settle_seconds = 1.0;                            // a file modified more recently may still be being written
    const std::atomic<bool>* stop = nullptr;                // set (e.g. by a signal) to end the watch
    std::function<void(const RunSummary& round)> on_round;  // after every round that found files
};

// Processes the inbox's files as they arrive until `stop`: each round's results are appended
// to the output (standard output when empty) the moment they are stored, so a file's line is
// written exactly once even across crashes (lines already in the output are not repeated),
// and the manifest (when asked) is rewritten to cover every document of the watch.
Result<RunSummary> watch_task(const std::string& model_path, const TaskConfig& task, const RunOptions& options,
                              const WatchOptions& watch);

}  // namespace tf::pipeline
