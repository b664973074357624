// terraferma extract --schema S.json | classify --labels a,b,c | summarize [--words N]
//   -m MODEL (INPUT... | --watch INBOX [--move-to DIR]) [-o OUT.jsonl] [--store PATH] [--parallel N]
// One JSON line per document, in input order; per-document errors are lines with
// "status":"error" and the batch goes on. Results live in the job store, so an interrupted
// run continues where it stopped and finished documents are never recomputed.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "cli/document_flags.h"
#include "cli/kv_cache_flags.h"
#include "cli/model_argument.h"
#include "pipeline/run.h"
#include "pipeline/shared_queue.h"
#include "pipeline/store.h"
#include "util/thread_pool.h"

namespace tf::cli {

namespace {

struct DocArgs {
    std::string model, output, store = ".terraferma/jobs.sqlite", prompt_file, schema_file, labels, manifest, watch,
                               move_to;
    double watts = 15.0, poll = 1.0;
    std::vector<std::string> inputs;
    std::string routes_file, route;
    bool sensitive = false, enqueue = false, wait = false;
    int parallel = 1, threads = 0, ctx = 4096, max_output = 1024, words = 120;
    KvCacheFlags kv;
};

void common_flags(CLI::App* app, DocArgs& a) {
    add_model_option(app, a.model);
    add_document_options(app);
    auto* inputs =
        app->add_option("inputs", a.inputs,
                        "Documents: files (.txt .md .html .csv .eml .pdf .docx .xlsx .odt .ods, images by OCR; "
                        "read by content), folders (walked) or - for standard input");
    auto* watch = app->add_option(
        "--watch", a.watch,
        "Process the files arriving in this folder, until stopped (Ctrl-C / SIGTERM); -o is appended to");
    inputs->excludes(watch);
    watch->excludes(inputs);
    app->add_option("--move-to", a.move_to,
                    "With --watch: move each finished file here (default: leave it; the output marks it done)")
        ->needs(watch);
    app->add_option("--poll", a.poll, "With --watch: seconds between looks at the folder")
        ->capture_default_str()
        ->check(CLI::Range(0.05, 3600.0))
        ->needs(watch);
    app->add_option("-o,--output", a.output, "Write the JSON lines here (atomically) instead of standard output");
    app->add_option("--store", a.store,
                    "Job store holding every result: a SQLite file, or postgresql://… shared by many machines")
        ->capture_default_str();
    auto* enqueue = app->add_flag("--enqueue", a.enqueue,
                                  "Queue the documents in the --store postgresql://… database for 'terraferma worker' "
                                  "processes instead of computing them here");
    app->add_flag("--wait", a.wait,
                  "With --enqueue: wait for the workers, streaming each result as it is stored (with -o: the file "
                  "in input order at the end, as a local run writes it)")
        ->needs(enqueue);
    enqueue->excludes(watch);
    app->add_option("--parallel", a.parallel, "Documents processed at once (each with its own context)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    app->add_option("-t,--threads", a.threads, "Compute threads per document (default: cores / parallel)");
    app->add_option("-c,--ctx-size", a.ctx, "Context in tokens; longer documents are processed in chunks")
        ->capture_default_str()
        ->check(CLI::Range(256, 1 << 20));
    app->add_option("--max-output", a.max_output, "Tokens an answer may take")
        ->capture_default_str()
        ->check(CLI::Range(16, 1 << 16));
    a.kv.add_to(app);
    app->add_option("--prompt", a.prompt_file,
                    "Prompt template file ({document}, {schema}, {labels}, {words} are replaced)");
    app->add_option("--manifest", a.manifest,
                    "Write the run's reproducibility manifest here (default: OUT.manifest.json beside -o)");
    app->add_option("--routes", a.routes_file,
                    "A routes file (as for serve --routes); with --route, documents go through that route's tiers");
    app->add_option("--route", a.route,
                    "The route (of --routes) whose tiers answer: this model first, then the route's remote "
                    "endpoints on a failed result or low classify confidence, under its privacy policy");
    app->add_flag("--sensitive", a.sensitive, "No document of this run leaves the machine, whatever the route says");
    app->add_option("--watts-per-core", a.watts, "Energy estimate per busy core when RAPL counters are unreadable")
        ->capture_default_str();
}

void print_summary(const std::string& what, const pipeline::RunSummary& r, const char* prefix = "") {
    std::fprintf(stderr,
                 "terraferma: %s: %s%zu documents (%zu computed, %zu from the store, %zu errors), %llu tokens in, %llu "
                 "out, %.1f s",
                 what.c_str(), prefix, r.documents, r.computed, r.from_store, r.errors,
                 static_cast<unsigned long long>(r.tokens_in), static_cast<unsigned long long>(r.tokens_out),
                 r.seconds);
    if (r.computed > 0 && r.worker_seconds > 0) {
        std::fprintf(stderr, ", %.1f documents/min, %.1f%% of the work outside the model",
                     60.0 * static_cast<double>(r.documents) / std::max(r.seconds, 1e-9),
                     100.0 * std::max(0.0, r.worker_seconds - r.model_seconds) / r.worker_seconds);
    }
    std::fprintf(stderr, "\n");
}

// Watches until SIGINT or SIGTERM: the signals are taken by a thread of their own that sets
// the stop flag, so a document being computed finishes and is stored before the exit.
int watch(const std::string& what, const DocArgs& a, const pipeline::TaskConfig& task, const pipeline::RunOptions& o) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::atomic<bool> stop{false};
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        stop = true;
    });
    pipeline::WatchOptions w;
    w.inbox = a.watch;
    w.move_to = a.move_to;
    w.poll_seconds = a.poll;
    w.stop = &stop;
    w.on_round = [&](const pipeline::RunSummary& r) { print_summary(what, r); };
    std::fprintf(stderr, "terraferma: %s: watching %s (Ctrl-C to stop)\n", what.c_str(), a.watch.c_str());
    auto r = pipeline::watch_task(a.model, task, o, w);
    if (!stop) {
        stop = true;
        pthread_kill(waiter.native_handle(), SIGTERM);  // wakes sigwait, which takes it (blocked here)
    }
    waiter.join();
    if (!r) {
        print_error(what, r.error().message);
        return kExitFailure;
    }
    print_summary(what, *r, "stopped watching after ");
    return kExitOk;
}

// --enqueue [--wait]: the documents go to the shared queue; Ctrl-C stops the waiting only.
int enqueue(const std::string& what, const DocArgs& a, const pipeline::TaskConfig& task,
            const pipeline::RunOptions& o) {
    static std::atomic<bool> stop{false};
    std::signal(SIGINT, [](int) { stop = true; });
    std::signal(SIGTERM, [](int) { stop = true; });
    auto r = pipeline::enqueue_task(a.model, task, o, a.wait, &stop);
    if (!r) {
        print_error(what, r.error().message);
        return r.error().kind == ErrorKind::Invalid && !pipeline::is_postgres_url(o.store_path) ? kExitUsage
                                                                                                : kExitFailure;
    }
    if (a.wait) {
        std::fprintf(stderr, "terraferma: %s: %zu documents, %zu errors\n", what.c_str(), r->documents, r->errors);
        if (!r->manifest_path.empty())
            std::fprintf(stderr, "terraferma: %s: manifest %s (check it with 'terraferma verify')\n", what.c_str(),
                         r->manifest_path.c_str());
    }
    return kExitOk;
}

int run(const std::string& what, DocArgs& a, pipeline::TaskConfig task) {
    if (a.inputs.empty() && a.watch.empty()) {
        print_error(what, "give documents (files, folders or -) or --watch FOLDER");
        return kExitUsage;
    }
    if (!a.prompt_file.empty()) {
        std::ifstream f(a.prompt_file);
        if (!f) {
            print_error(what, a.prompt_file + ": cannot open");
            return kExitFailure;
        }
        std::stringstream ss;
        ss << f.rdbuf();
        task.prompt = ss.str();
    }
    task.n_ctx = a.ctx;
    task.max_output_tokens = std::min(a.max_output, a.ctx / 2);
    task.swa_extra = a.kv.swa_extra();
    if (Status st = a.kv.types(task.k_type, task.v_type); !st) {
        print_error(what, st.error().message);
        return kExitUsage;
    }
    pipeline::RunOptions o;
    if (!a.route.empty() || !a.routes_file.empty()) {
        if (a.route.empty() || a.routes_file.empty()) {
            print_error(what, "--route and --routes go together");
            return kExitUsage;
        }
        // The pipeline runs one model: the route's one local tier, whatever its name there.
        auto config = router::load_route_config(a.routes_file, {});
        if (!config) {
            print_error(what, config.error().message);
            return kExitUsage;
        }
        const router::Route* route = config->route(a.route);
        if (route == nullptr) {
            print_error(what, a.routes_file + " has no route '" + a.route + "'");
            return kExitUsage;
        }
        std::string locals;
        for (const auto& t : route->tiers)
            if (!t.remote) locals += (locals.empty() ? "" : ", ") + t.name;
        if (locals.find(',') != std::string::npos || locals.empty()) {
            print_error(
                what, "route '" + a.route + "' needs exactly one local tier (this run's model), not '" + locals + "'");
            return kExitUsage;
        }
        task.route_key = pipeline::route_key(*config, *route);
        auto r = router::Router::create(std::move(*config));
        if (!r) {
            print_error(what, r.error().message);
            return kExitUsage;
        }
        o.route.router = std::move(*r);
        o.route.route = o.route.router->config().route(a.route);
        o.route.sensitive = a.sensitive;
    }
    o.inputs = a.inputs;
    o.output = a.output;
    o.store_path = a.store;
    o.manifest = a.manifest;
    o.watts_per_core = a.watts;
    o.workers = a.parallel;
    o.threads_per_worker = a.threads > 0 ? a.threads : std::max(1, ThreadPool::default_threads() / a.parallel);
    if (!a.watch.empty()) return watch(what, a, task, o);
    if (a.enqueue) return enqueue(what, a, task, o);
    auto r = pipeline::run_task(a.model, task, o);
    if (!r) {
        print_error(what, r.error().message);
        return kExitFailure;
    }
    print_summary(what, *r);
    if (r->remote.tokens_in + r->remote.tokens_out > 0)
        std::fprintf(stderr, "terraferma: %s: remote tiers: %llu tokens in, %llu out, %.4f USD\n", what.c_str(),
                     static_cast<unsigned long long>(r->remote.tokens_in),
                     static_cast<unsigned long long>(r->remote.tokens_out), r->remote.usd);
    if (!r->manifest_path.empty())
        std::fprintf(stderr, "terraferma: %s: manifest %s (check it with 'terraferma verify')\n", what.c_str(),
                     r->manifest_path.c_str());
    return kExitOk;
}

}  // namespace

void add_document_commands(CLI::App& root, Commands& commands) {
    {
        auto a = std::make_shared<DocArgs>();
        CLI::App* app = root.add_subcommand("extract", "Extract JSON valid against a schema from every document");
        common_flags(app, *a);
        app->add_option("--schema", a->schema_file, "JSON Schema of the result")->required();
        commands.push_back({app, [a]() {
                                std::ifstream f(a->schema_file);
                                if (!f) {
                                    print_error("extract", a->schema_file + ": cannot open");
                                    return kExitFailure;
                                }
                                std::stringstream ss;
                                ss << f.rdbuf();
                                pipeline::TaskConfig t;
                                t.kind = "extract";
                                t.schema = nlohmann::ordered_json::parse(ss.str(), nullptr, false);
                                if (t.schema.is_discarded() || !t.schema.is_object()) {
                                    print_error("extract", a->schema_file + ": not a JSON object");
                                    return kExitUsage;
                                }
                                return run("extract", *a, std::move(t));
                            }});
    }
    {
        auto a = std::make_shared<DocArgs>();
        CLI::App* app = root.add_subcommand("classify", "Give every document one label, with a confidence");
        common_flags(app, *a);
        app->add_option("--labels", a->labels, "Comma-separated labels")->required();
        commands.push_back({app, [a]() {
                                pipeline::TaskConfig t;
                                t.kind = "classify";
                                std::stringstream ss(a->labels);
                                for (std::string l; std::getline(ss, l, ',');) {
                                    if (!l.empty()) t.labels.push_back(l);
                                }
                                if (t.labels.size() < 2) {
                                    print_error("classify", "--labels needs at least two labels, separated by commas");
                                    return kExitUsage;
                                }
                                return run("classify", *a, std::move(t));
                            }});
    }
    {
        auto a = std::make_shared<DocArgs>();
        CLI::App* app = root.add_subcommand("summarize", "Summarize documents of any length (map-reduce over chunks)");
        common_flags(app, *a);
        app->add_option("--words", a->words, "Target length in words")
            ->capture_default_str()
            ->check(CLI::Range(5, 5000));
        commands.push_back({app, [a]() {
                                pipeline::TaskConfig t;
                                t.kind = "summarize";
                                t.summary_words = a->words;
                                return run("summarize", *a, std::move(t));
                            }});
    }
}

}  // namespace tf::cli
