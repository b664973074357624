// Running a task over many documents: inputs expanded (folders walked), each document looked
// up in the job store by content hash and task key, the missing ones computed by worker
// threads (each with its own context), every result stored the moment it is done, and the
// output written at the end in input order (atomically, when it is a file).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pipeline/tasks.h"

namespace tf::pipeline {

struct RunOptions {
    std::vector<std::string> inputs;
    std::string output;      // JSONL file; empty: standard output
    std::string store_path;  // SQLite job store
    std::string manifest;    // where to write the run's manifest; empty: beside the output, or none
    double watts_per_core = 15.0;  // energy estimate when RAPL counters are not readable
    int workers = 1;
    int threads_per_worker = 1;
    bool progress = true;
};

struct RunSummary {
    size_t documents = 0, computed = 0, from_store = 0, errors = 0;
    uint64_t tokens_in = 0, tokens_out = 0;
    double seconds = 0, cpu_seconds = 0, energy_wh = 0;
    std::string energy_source;
    std::string manifest_path;  // written, when not empty
};

// Files of the inputs: files as given, folders walked (sorted, hidden files skipped).
Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs);

Result<RunSummary> run_task(const std::string& model_path, const TaskConfig& task, const RunOptions& options);

}  // namespace tf::pipeline
