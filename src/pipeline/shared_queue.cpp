#include "pipeline/shared_queue.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "pipeline/document_job.h"
#include "pipeline/store.h"
#include "util/progress.h"

namespace tf::pipeline {

using ojson = nlohmann::ordered_json;

namespace {

// Sleeps up to `seconds`, waking early when `stop` is set.
void nap(double seconds, const std::atomic<bool>* stop) {
    for (double slept = 0; slept < seconds && !(stop && stop->load()); slept += 0.02)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

Result<RunSummary> enqueue_task(const std::string& model_path, const TaskConfig& task, const RunOptions& o, bool wait,
                                const std::atomic<bool>* stop) {
    if (!is_postgres_url(o.store_path))
        return Error{"--enqueue needs a shared store: --store postgresql://…, not " + o.store_path};
    if (o.route.router) return Error{"--enqueue with --route: routed documents are computed by a local run only"};
    auto inputs = expand_inputs(o.inputs);
    if (!inputs) return inputs.error();
    const std::vector<std::string> files = expand_documents(*inputs);
    auto m = load_model(model_path);
    if (!m) return m.error();
    if (Status st = check_task(**m, task); !st) return st.error();
    auto queue = open_postgres_queue(o.store_path, "terraferma-submit");
    if (!queue) return queue.error();
    std::string stdin_text;
    if (std::find(files.begin(), files.end(), "-") != files.end())
        stdin_text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());

    const std::string task_key = task.key((*m)->sha256);
    const std::string task_json = task.to_json().dump();
    std::vector<Item> items;
    std::vector<QueuedDocument> batch;
    int64_t queued = 0;
    for (const std::string& f : files) {
        std::string error;
        std::string bytes = read_item_bytes(f, stdin_text, error);
        Item item = make_item(task_key, f, bytes, error);
        if (error.empty()) {
            batch.push_back({item.sha, item.key, f, task.kind, (*m)->sha256, task_json, std::move(bytes)});
        }
        items.push_back(std::move(item));
        // In batches, so that a large folder is not held in memory at once.
        if (batch.size() == 64 || (&f == &files.back() && !batch.empty())) {
            auto n = (*queue)->enqueue(batch);
            if (!n) return n.error();
            queued += *n;
            batch.clear();
        }
    }
    RunSummary sum;
    sum.documents = items.size();
    std::fprintf(stderr, "terraferma: %s: %zu documents: %lld queued, %lld already stored or queued\n",
                 task.kind.c_str(), items.size(), static_cast<long long>(queued),
                 static_cast<long long>(static_cast<int64_t>(items.size()) - queued));
    if (!wait) return sum;

    // Documents that could not be read are not queued: their error lines are made here, as a
    // local run would store them.
    std::vector<std::optional<JobRecord>> results(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].read_error.empty())
            results[i] = JobRecord{items[i].sha, items[i].key, items[i].path, "error", "", items[i].read_error};
    }
    std::vector<ManifestDocument> manifest_docs(items.size());
    std::string out;
    size_t done = 0;
    Progress progress(task.kind, o.progress, Progress::Off::Lines, "documents");
    auto emit = [&](size_t i) {
        RunSummary counted;
        const std::string line = output_line(task, items[i], *results[i], counted, manifest_docs[i]);
        sum.errors += counted.errors;
        if (o.output.empty()) {
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fflush(stdout);
        }
        ++done;
    };
    for (size_t i = 0; i < items.size(); ++i)
        if (results[i]) emit(i);
    while (done < items.size()) {
        if (stop && stop->load()) return Error{"stopped waiting; the documents stay queued", ErrorKind::Cancelled};
        std::vector<std::string> shas, keys;
        std::map<std::pair<std::string, std::string>, std::vector<size_t>> waiting;
        for (size_t i = 0; i < items.size(); ++i) {
            if (results[i]) continue;
            if (waiting[{items[i].sha, items[i].key}].empty()) {
                shas.push_back(items[i].sha);
                keys.push_back(items[i].key);
            }
            waiting[{items[i].sha, items[i].key}].push_back(i);
        }
        auto found = (*queue)->stored(shas, keys);
        if (!found) return found.error();
        for (const JobRecord& r : *found) {
            for (size_t i : waiting[{r.doc_sha256, r.task_key}]) {
                results[i] = r;
                emit(i);
            }
        }
        progress.update(done, items.size());
        if (done < items.size()) nap(0.25, stop);
    }
    progress.finish();
    sum.from_store = items.size();
    if (!o.output.empty()) {
        RunSummary ignored;
        for (size_t i = 0; i < items.size(); ++i)
            out += output_line(task, items[i], *results[i], ignored, manifest_docs[i]);
        if (Status st = write_atomically(o.output, out); !st) return st.error();
    }
    if (const std::string mp = default_manifest_path(o); !mp.empty()) {
        if (Status st = write_atomically(mp, make_manifest(model_path, (*m)->sha256, task, manifest_docs, o.output)
                                                     .dump(1, ' ', false, ojson::error_handler_t::replace) +
                                                 "\n");
            !st)
            return st.error();
        sum.manifest_path = mp;
    }
    return sum;
}

namespace {

std::string default_worker_name() {
    char host[256] = "";
    ::gethostname(host, sizeof host - 1);
    std::random_device rd;
    char tag[16];
    std::snprintf(tag, sizeof tag, "%04x", rd() & 0xffff);
    return std::string("worker@") + host + ":" + std::to_string(::getpid()) + ":" + tag;
}

// Time spent waiting on the database, for the worker's summary: the store's share of the work.
struct DbClock {
    std::atomic<int64_t> ns{0};
    template <typename F>
    auto operator()(F f) -> decltype(f()) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = f();
        ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        return r;
    }
};

// The store a document's steps and the ledger go to, timed.
class TimedStore : public JobStore {
  public:
    TimedStore(JobStore& s, DbClock& clock) : s_(s), clock_(clock) {}
    Result<std::optional<JobRecord>> get(const std::string& sha, const std::string& key) override {
        return clock_([&] { return s_.get(sha, key); });
    }
    Status put(const JobRecord& r) override {
        return clock_([&] { return s_.put(r); });
    }
    Result<std::optional<std::string>> get_step(const std::string& sha, const std::string& key,
                                                const std::string& step) override {
        return clock_([&] { return s_.get_step(sha, key, step); });
    }
    Status put_step(const std::string& sha, const std::string& key, const std::string& step,
                    const std::string& value) override {
        return clock_([&] { return s_.put_step(sha, key, step, value); });
    }
    Status record_run(RunRecord& run) override {
        return clock_([&] { return s_.record_run(run); });
    }
    Result<std::vector<RunRecord>> runs() override {
        return clock_([&] { return s_.runs(); });
    }

  private:
    JobStore& s_;
    DbClock& clock_;
};

// A worker thread's runner for one task configuration (rebuilt when the next job's differs).
struct Runner {
    std::string task_json;
    TaskConfig task;
    std::string task_key;  // TaskConfig::key for this worker's model
    std::unique_ptr<TaskRunner> runner;
};

}  // namespace

Result<WorkerSummary> run_worker(const std::string& model_path, const WorkerOptions& o) {
    if (!is_postgres_url(o.store_url)) return Error{"a worker needs a shared store: --store postgresql://…"};
    const std::string name = o.name.empty() ? default_worker_name() : o.name;
    auto m = load_model(model_path);
    if (!m) return m.error();
    const LoadedModel& model = **m;
    // Claims and results, steps and the ledger, heartbeats: a connection each, so that a
    // heartbeat is never queued behind a long statement.
    auto queue = open_postgres_queue(o.store_url, name, true);
    if (!queue) return queue.error();
    auto store = open_postgres_store(o.store_url, name, true);
    if (!store) return store.error();
    auto beat = open_postgres_queue(o.store_url, name + " heartbeat", true);
    if (!beat) return beat.error();
    DbClock db;
    TimedStore steps(**store, db);

    std::mutex mu;
    std::set<std::string> held;  // leases of the documents under way
    std::set<int64_t> skip;      // jobs given back: read differently here
    std::map<std::string, Ledger> ledgers;
    std::map<std::string, RunSummary> sums;
    WorkerSummary total;
    Status failure = Status::success();
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds_now(), rapl0 = rapl_uj();
    std::atomic<bool> finished{false};
    auto stopping = [&] { return finished.load() || (o.stop && o.stop->load()); };
    std::fprintf(stderr, "terraferma: worker %s: model %s, store ready\n", name.c_str(), model.path.c_str());

    std::thread heart([&] {
        while (!finished) {
            nap(o.lease_seconds / 3, &finished);
            if (finished) break;
            std::vector<std::string> leases;
            {
                std::lock_guard<std::mutex> lock(mu);
                leases.assign(held.begin(), held.end());
            }
            (void)(*beat)->heartbeat(leases, o.lease_seconds);  // a failure shows in complete()
        }
    });

    auto account = [&](const std::string& kind, uint64_t tin, uint64_t tout, bool document_done, bool error,
                       double model_s) {
        std::lock_guard<std::mutex> lock(mu);
        auto l = ledgers.find(kind);
        if (l == ledgers.end())
            l = ledgers.emplace(kind, start_ledger(model, kind, o.watts_per_core, cpu0, rapl0, std::time(nullptr)))
                    .first;
        RunSummary& s = sums[kind];
        s.tokens_in += tin;
        s.tokens_out += tout;
        s.model_seconds += model_s;
        total.tokens_in += tin;
        total.tokens_out += tout;
        if (document_done) {
            ++s.documents;
            ++s.computed;
            if (error) ++s.errors;
        }
        (void)update_ledger(steps, l->second, s);
    };

    // A job this worker will not compute goes back to the queue at once, and is not claimed
    // again by this worker.
    auto give_back = [&](const ClaimedJob& job, const std::string& why) {
        std::fprintf(stderr, "terraferma: worker: %s: %s; given back\n", job.doc.path.c_str(), why.c_str());
        (void)(*queue)->release(job);
        std::lock_guard<std::mutex> lock(mu);
        held.erase(job.lease);
        skip.insert(job.id);
        ++total.refused;
    };

    auto work = [&]() {
        Runner r;
        while (!stopping()) {
            std::vector<int64_t> skipped;
            {
                std::lock_guard<std::mutex> lock(mu);
                skipped.assign(skip.begin(), skip.end());
            }
            auto claimed = db([&] { return (*queue)->claim(name, model.sha256, o.kinds, skipped, o.lease_seconds); });
            if (!claimed) {
                std::lock_guard<std::mutex> lock(mu);
                failure = claimed.error();
                finished = true;
                return;
            }
            if (!claimed->has_value()) {
                if (o.until_empty) {
                    auto left = (*queue)->unfinished(model.sha256);
                    if (!left) {
                        std::lock_guard<std::mutex> lock(mu);
                        failure = left.error();
                        finished = true;
                        return;
                    }
                    size_t mine;
                    {
                        std::lock_guard<std::mutex> lock(mu);
                        mine = skip.size();
                    }
                    // Jobs this worker gave back are others' to do.
                    if (*left <= static_cast<int64_t>(mine)) return;
                }
                nap(o.poll_seconds, o.stop);
                continue;
            }
            ClaimedJob job = std::move(**claimed);
            {
                std::lock_guard<std::mutex> lock(mu);
                held.insert(job.lease);
            }
            auto drop_lease = [&] {
                std::lock_guard<std::mutex> lock(mu);
                held.erase(job.lease);
            };
            if (job.doc.task_json != r.task_json) {
                auto t = TaskConfig::from_json(ojson::parse(job.doc.task_json, nullptr, false));
                Status fits = t ? check_task(model, *t) : Status(t.error());
                if (!fits) {
                    // Not this worker's to compute; another may be configured for it.
                    give_back(job, fits.error().message);
                    continue;
                }
                r.task_json = job.doc.task_json;
                r.task = std::move(*t);
                r.task_key = r.task.key(model.sha256);
                r.runner =
                    std::make_unique<TaskRunner>(*model.model, *model.tok, *model.tmpl, r.task, o.threads_per_document);
            }
            Item item = make_item(r.task_key, job.doc.path, job.doc.bytes, "");
            DocumentWork w;
            if (item.key != job.doc.task_key || item.sha != job.doc.doc_sha256) {
                // Another engine version or document reader than the submitter's: its result
                // would not be the one asked for.
                give_back(job, "this worker reads it differently than its submitter (engine or reader version)");
                continue;
            }
            if (job.attempts > o.max_attempts) {
                w.record = JobRecord{item.sha,
                                     item.key,
                                     item.path,
                                     "error",
                                     "",
                                     "given up after " + std::to_string(job.attempts - 1) +
                                         " attempts: every worker that took it stopped before finishing it"};
            } else {
                w = compute_document(
                    *r.runner, r.task, item, document_of(item, job.doc.bytes), steps, RouteUse{},
                    [&](uint64_t tin, uint64_t tout) { account(r.task.kind, tin, tout, false, false, 0); });
            }
            auto stored = db([&] { return (*queue)->complete(job, w.record); });
            drop_lease();
            if (!stored) {
                std::lock_guard<std::mutex> lock(mu);
                failure = stored.error();
                finished = true;
                return;
            }
            if (!*stored) {
                std::fprintf(stderr,
                             "terraferma: worker: %s: the lease was lost (another worker took the document over); "
                             "this result is not stored\n",
                             job.doc.path.c_str());
                std::lock_guard<std::mutex> lock(mu);
                ++total.lost;
                continue;
            }
            account(r.task.kind, w.tokens_in, w.tokens_out, true, w.record.status != "ok", w.model_seconds);
            std::lock_guard<std::mutex> lock(mu);
            ++total.computed;
            if (w.record.status != "ok") ++total.errors;
            if (o.progress)
                std::fprintf(stderr, "terraferma: worker: %s %s\n", w.record.status == "ok" ? "stored" : "error",
                             job.doc.path.c_str());
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < std::max(1, o.parallel); ++i) threads.emplace_back(work);
    for (auto& t : threads) t.join();
    finished = true;
    heart.join();
    total.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total.db_seconds = static_cast<double>(db.ns.load()) / 1e9 / std::max(1, o.parallel);
    if (!failure) return failure.error();
    return total;
}

}  // namespace tf::pipeline
