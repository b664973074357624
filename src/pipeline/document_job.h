// One document's work, shared by a run on this machine (run.cpp) and a worker of a shared
// queue (worker.cpp): the loaded model, a document's identity in the job store, computing its
// result with each finished step kept, its output line, and the run's ledger row. One
// implementation, so a result is the same whichever path computed it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "model/model.h"
#include "pipeline/manifest.h"
#include "pipeline/routed_task.h"
#include "pipeline/run.h"
#include "pipeline/store.h"
#include "pipeline/tasks.h"
#include "tokenizer/chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tf::pipeline {

// The model, its tokenizer and template, loaded once per process.
struct LoadedModel {
    std::string path, sha256;
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tok::Tokenizer> tok;
    std::unique_ptr<chat::ChatTemplate> tmpl;
};
Result<std::unique_ptr<LoadedModel>> load_model(const std::string& model_path);
// Whether the task's context fits this model (n_ctx, KV types): the message names the model.
Status check_task(const LoadedModel& m, const TaskConfig& task);

// A document to process: its bytes' hash, and the key of its result in the store — the task's
// key (task configuration, model, engine) with how the bytes are read (format and converter),
// since the same bytes read another way give another result.
struct Item {
    std::string path, sha, format, key;
    std::string read_error;
};

std::string hash_bytes(const std::string& b);
// The bytes of `path` (a file, an attachment out of its message, or - for stdin_text).
std::string read_item_bytes(const std::string& path, const std::string& stdin_text, std::string& error);
// `task_key` is the task's key for this model (TaskConfig::key).
Item make_item(const std::string& task_key, const std::string& path, const std::string& bytes,
               const std::string& read_error);
// The document of an item whose bytes are `bytes` (they must still hash to item.sha).
Result<Document> document_of(const Item& item, const std::string& bytes);

// What computing one document gave: the record to store and the work it took.
struct DocumentWork {
    JobRecord record;
    uint64_t tokens_in = 0, tokens_out = 0;  // not yet reported through on_step
    double model_seconds = 0;
    RemoteSpend remote;
};

// Computes the item's result. Every finished step is kept in `steps` (a killed run resumes
// there) and reported through on_step(tokens in, tokens out since the last report), so a
// ledger can count work the moment it is done.
DocumentWork compute_document(TaskRunner& runner, const TaskConfig& task, const Item& item, Result<Document> doc,
                              JobStore& steps, const RouteUse& route,
                              const std::function<void(uint64_t, uint64_t)>& on_step);

// The output line of a stored result, and its manifest entry; counts errors in sum.
std::string output_line(const TaskConfig& task, const Item& item, const JobRecord& r, RunSummary& sum,
                        ManifestDocument& md);

// A run's row in the ledger, written when the run starts and brought up to date as documents
// and their steps finish — a run killed at any moment still counts the work it recorded.
struct Ledger {
    RunRecord row;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    double cpu0 = 0, rapl0 = -1;
    double watts_per_core = 15.0;
};
double cpu_seconds_now();
double rapl_uj();  // the package energy counter (microjoules) where readable; -1 otherwise
Ledger start_ledger(const LoadedModel& m, const std::string& task_kind, double watts_per_core, double cpu0,
                    double rapl0, int64_t started_at);
Status update_ledger(JobStore& store, Ledger& g, RunSummary& sum);

Status write_atomically(const std::string& path, const std::string& text);
// Where a run's manifest goes: --manifest, else OUT.manifest.json beside -o, else nowhere.
std::string default_manifest_path(const RunOptions& o);

}  // namespace tf::pipeline
