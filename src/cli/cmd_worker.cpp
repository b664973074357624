// terraferma worker -m MODEL --store postgresql://… [--tasks extract,classify] [--parallel N]
// Computes documents queued by `extract|classify|summarize --store postgresql://… --enqueue`
// on any machine: claims them with leases, stores each result while it holds the lease.
// SIGTERM/Ctrl-C: the documents under way finish and are stored, then it exits; a second
// signal exits at once (their leases run out and other workers take them).
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "cli/document_flags.h"
#include "cli/model_argument.h"
#include "pipeline/shared_queue.h"
#include "pipeline/store.h"
#include "util/thread_pool.h"

namespace tf::cli {

void add_worker_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::string model, store, tasks, name;
        int parallel = 1, threads = 0, max_attempts = 10;
        double lease = 60, poll = 1;
        bool until_empty = false, quiet = false;
        double watts = 15.0;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand(
        "worker", "Compute documents queued in a shared PostgreSQL store (--enqueue), on as many machines as you like");
    add_model_option(app, a->model, "GGUF model file or store name; the worker takes documents queued for this model");
    add_document_options(app);
    app->add_option("--store", a->store, "The shared job store: postgresql://USER@HOST:PORT/DB (libpq URL)")
        ->required();
    app->add_option("--tasks", a->tasks, "Comma-separated tasks to take (extract, classify, summarize; default all)");
    app->add_option("--parallel", a->parallel, "Documents computed at once (each with its own context)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    app->add_option("-t,--threads", a->threads, "Compute threads per document (default: cores / parallel)");
    app->add_option("--name", a->name,
                    "This worker's name in results, the ledger and pg_stat_activity (default: "
                    "worker@HOST:PID:TAG)");
    app->add_option("--lease", a->lease,
                    "Seconds a document stays this worker's without a heartbeat (renewed every third of it); a "
                    "worker killed or cut off loses its documents to others after this")
        ->capture_default_str()
        ->check(CLI::Range(1.0, 86400.0));
    app->add_option("--poll", a->poll, "Seconds between looks at an empty queue")
        ->capture_default_str()
        ->check(CLI::Range(0.05, 3600.0));
    app->add_option("--max-attempts", a->max_attempts,
                    "A document whose workers all stopped before finishing it this often is stored as an error")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app->add_flag("--until-empty", a->until_empty, "Exit when no document for this model is queued or under way");
    app->add_flag("-q,--quiet", a->quiet, "No line per stored document");
    app->add_option("--watts-per-core", a->watts, "Energy estimate per busy core when RAPL counters are unreadable")
        ->capture_default_str();
    commands.push_back(
        {app, [a]() {
             pipeline::WorkerOptions o;
             o.store_url = a->store;
             o.name = a->name;
             std::stringstream ss(a->tasks);
             for (std::string t; std::getline(ss, t, ',');) {
                 if (t.empty()) continue;
                 if (t != "extract" && t != "classify" && t != "summarize") {
                     print_error("worker", "--tasks: unknown task '" + t + "' (extract, classify, summarize)");
                     return kExitUsage;
                 }
                 o.kinds.push_back(t);
             }
             if (!pipeline::is_postgres_url(a->store)) {
                 print_error("worker",
                             "--store must be a postgresql:// URL (workers share a "
                             "PostgreSQL database), not " +
                                 a->store);
                 return kExitUsage;
             }
             o.parallel = a->parallel;
             o.threads_per_document =
                 a->threads > 0 ? a->threads : std::max(1, ThreadPool::default_threads() / a->parallel);
             o.lease_seconds = a->lease;
             o.poll_seconds = a->poll;
             o.max_attempts = a->max_attempts;
             o.until_empty = a->until_empty;
             o.watts_per_core = a->watts;
             o.progress = !a->quiet;
             // Signals are taken by a thread of their own: the first asks for a
             // graceful stop, the second ends the process at once.
             sigset_t signals;
             sigemptyset(&signals);
             sigaddset(&signals, SIGINT);
             sigaddset(&signals, SIGTERM);
             pthread_sigmask(SIG_BLOCK, &signals, nullptr);
             static std::atomic<bool> stop{false};
             static std::atomic<bool> done{false};
             std::thread waiter([signals]() mutable {
                 int sig = 0;
                 sigwait(&signals, &sig);
                 if (done) return;
                 stop = true;
                 std::fprintf(stderr,
                              "terraferma: worker: stopping after the documents under way "
                              "(signal again to stop at once)\n");
                 sigwait(&signals, &sig);
                 if (done) return;
                 std::_Exit(128 + sig);
             });
             o.stop = &stop;
             auto r = pipeline::run_worker(a->model, o);
             done = true;
             pthread_kill(waiter.native_handle(), SIGTERM);
             waiter.join();
             if (!r) {
                 print_error("worker", r.error().message);
                 return kExitFailure;
             }
             std::fprintf(stderr,
                          "terraferma: worker: %zu documents computed (%zu errors), %zu results not "
                          "stored (lease lost), %zu given back, %llu tokens in, %llu out, %.1f s (%.2f%% "
                          "in the database)\n",
                          r->computed, r->errors, r->lost, r->refused, static_cast<unsigned long long>(r->tokens_in),
                          static_cast<unsigned long long>(r->tokens_out), r->seconds,
                          100.0 * r->db_seconds / std::max(r->seconds, 1e-9));
             return kExitOk;
         }});
}

}  // namespace tf::cli
