// terraferma extract --schema S.json | classify --labels a,b,c | summarize [--words N]
//   -m MODEL INPUT... [-o OUT.jsonl] [--store PATH] [--parallel N]
// One JSON line per document, in input order; per-document errors are lines with
// "status":"error" and the batch goes on. Results live in the job store, so an interrupted
// run continues where it stopped and finished documents are never recomputed.
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "pipeline/run.h"
#include "util/thread_pool.h"

namespace tf::cli {

namespace {

struct DocArgs {
    std::string model, output, store = ".terraferma/jobs.sqlite", prompt_file, schema_file, labels, manifest;
    double watts = 15.0;
    std::vector<std::string> inputs;
    int parallel = 1, threads = 0, ctx = 4096, max_output = 1024, words = 120;
};

void common_flags(CLI::App* app, DocArgs& a) {
    app->add_option("-m,--model", a.model, "GGUF model")->required();
    app->add_option("inputs", a.inputs, "Documents: files (.txt .md .html .pdf .docx), folders (walked) or - for standard input")->required();
    app->add_option("-o,--output", a.output, "Write the JSON lines here (atomically) instead of standard output");
    app->add_option("--store", a.store, "Job store (SQLite) holding every result")->capture_default_str();
    app->add_option("--parallel", a.parallel, "Documents processed at once (each with its own context)")->capture_default_str()->check(CLI::Range(1, 64));
    app->add_option("-t,--threads", a.threads, "Compute threads per document (default: cores / parallel)");
    app->add_option("-c,--ctx-size", a.ctx, "Context in tokens; longer documents are processed in chunks")->capture_default_str()->check(CLI::Range(256, 1 << 20));
    app->add_option("--max-output", a.max_output, "Tokens an answer may take")->capture_default_str()->check(CLI::Range(16, 1 << 16));
    app->add_option("--prompt", a.prompt_file, "Prompt template file ({document}, {schema}, {labels}, {words} are replaced)");
    app->add_option("--manifest", a.manifest, "Write the run's reproducibility manifest here (default: OUT.manifest.json beside -o)");
    app->add_option("--watts-per-core", a.watts, "Energy estimate per busy core when RAPL counters are unreadable")->capture_default_str();
}

int run(const std::string& what, DocArgs& a, pipeline::TaskConfig task) {
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
    pipeline::RunOptions o;
    o.inputs = a.inputs;
    o.output = a.output;
    o.store_path = a.store;
    o.manifest = a.manifest;
    o.watts_per_core = a.watts;
    o.workers = a.parallel;
    o.threads_per_worker = a.threads > 0 ? a.threads : std::max(1, ThreadPool::default_threads() / a.parallel);
    auto r = pipeline::run_task(a.model, task, o);
    if (!r) {
        print_error(what, r.error().message);
        return kExitFailure;
    }
    std::fprintf(stderr, "terraferma: %s: %zu documents (%zu computed, %zu from the store, %zu errors), %llu tokens in, %llu out, %.1f s\n",
                 what.c_str(), r->documents, r->computed, r->from_store, r->errors, static_cast<unsigned long long>(r->tokens_in),
                 static_cast<unsigned long long>(r->tokens_out), r->seconds);
    if (!r->manifest_path.empty()) std::fprintf(stderr, "terraferma: %s: manifest %s (check it with 'terraferma verify')\n", what.c_str(), r->manifest_path.c_str());
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
        app->add_option("--words", a->words, "Target length in words")->capture_default_str()->check(CLI::Range(5, 5000));
        commands.push_back({app, [a]() {
            pipeline::TaskConfig t;
            t.kind = "summarize";
            t.summary_words = a->words;
            return run("summarize", *a, std::move(t));
        }});
    }
}

}  // namespace tf::cli
