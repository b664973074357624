// terraferma bench -m MODEL [-p 512] [-n 128] [-r 5] [-t N] [--json]
// Prompt processing and token generation speed (median of r runs after a warm-up), the memory
// read bandwidth of this machine at the same thread count, the weight bytes each generated
// token reads, token generation as a share of that roofline, and peak resident memory.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/kv_cache_flags.h"
#include "cli/model_argument.h"
#include "kernels/membw.h"
#include "model/context.h"
#include "util/format.h"
#include "util/thread_pool.h"

namespace tf::cli {

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Bytes of weights one generated token reads: every matrix once (the output matrix even when
// it is the tied embedding; of the embedding otherwise only one row), experts by the share used.
uint64_t weight_bytes_per_token(const model::Model& m) {
    uint64_t total = 0;
    const bool tied = m.output.data == m.tok_embd.data;
    for (const auto& t : m.file->tensors()) {
        uint64_t bytes = t.data.size();
        if (t.name == "token_embd.weight" && !tied) bytes = *tensor_row_bytes(t.type, t.dims[0]);
        if (t.name.find("_exps.") != std::string::npos && m.hp.n_expert > 0)
            bytes = bytes * m.hp.n_expert_used / m.hp.n_expert;
        total += bytes;
    }
    return total;
}

long peak_rss_kib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

}  // namespace

void add_bench_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::string model;
        int prompt = 512, gen = 128, reps = 5, threads = 0;
        bool json = false;
        KvCacheFlags kv;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand(
        "bench", "Measure prompt processing and token generation speed against the bandwidth roofline");
    add_model_option(app, a->model);
    app->add_option("-p,--n-prompt", a->prompt, "Prompt tokens (pp)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 16));
    app->add_option("-n,--n-gen", a->gen, "Generated tokens (tg)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 16));
    app->add_option("-r,--repetitions", a->reps, "Runs per test; the median is reported")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
    a->kv.add_to(app);
    app->add_flag("--json", a->json, "One JSON object on stdout");
    commands.push_back(
        {app, [a]() {
             const int threads = a->threads > 0 ? a->threads : ThreadPool::default_threads();
             const auto t_load = std::chrono::steady_clock::now();
             auto loaded = model::Model::load(a->model);
             if (!loaded) {
                 print_error("bench", loaded.error().message);
                 return kExitFailure;
             }
             const model::Model& m = **loaded;
             model::ContextOptions co;
             co.n_ctx = std::max(a->prompt + a->gen + 1, 64);
             co.n_threads = threads;
             if (Status st = a->kv.apply(m, co); !st) {
                 print_error("bench", st.error().message);
                 return kExitUsage;
             }
             model::Context ctx(m, co);
             // Deterministic, vocabulary-spread token ids: speed does not depend on which.
             auto ids = [&](int n) {
                 std::vector<int32_t> v;
                 for (int i = 0; i < n; ++i)
                     v.push_back(static_cast<int32_t>((uint64_t(i) * 2654435761u + 1) % m.hp.n_vocab));
                 return v;
             };
             auto first = ctx.decode(ids(1), false);
             if (!first) {
                 print_error("bench", first.error().message);
                 return kExitFailure;
             }
             const double load_s = seconds_since(t_load);

             auto progress = [&](const char* what, int i) {
                 if (!a->json) std::fprintf(stderr, "\r%s run %d/%d ", what, i + 1, a->reps + 1);
             };
             std::vector<double> pp, tg;
             for (int r = 0; r <= a->reps && a->prompt > 0; ++r) {  // run 0 warms up
                 progress("pp", r);
                 ctx.clear();
                 const auto t0 = std::chrono::steady_clock::now();
                 auto out = ctx.decode(ids(a->prompt), false);
                 const double s = seconds_since(t0);
                 if (!out) {
                     print_error("bench", out.error().message);
                     return kExitFailure;
                 }
                 if (r > 0) pp.push_back(a->prompt / s);
             }
             for (int r = 0; r <= a->reps && a->gen > 0; ++r) {
                 progress("tg", r);
                 ctx.clear();
                 const auto toks = ids(a->gen);
                 const auto t0 = std::chrono::steady_clock::now();
                 for (int32_t id : toks) {
                     auto out = ctx.decode({id}, false);
                     if (!out) {
                         print_error("bench", out.error().message);
                         return kExitFailure;
                     }
                 }
                 const double s = seconds_since(t0);
                 if (r > 0) tg.push_back(a->gen / s);
             }
             const long rss = peak_rss_kib();  // before the bandwidth probe's buffer
             if (!a->json) std::fprintf(stderr, "\rmeasuring memory bandwidth…   ");
             ThreadPool pool(threads);
             const double bw_gbs = kernels::measure_read_bandwidth_gbs(pool);
             if (!a->json) std::fprintf(stderr, "\r                              \r");

             const uint64_t bytes = weight_bytes_per_token(m);
             const double roofline = bw_gbs * 1e9 / static_cast<double>(bytes);
             const double pp_med = pp.empty() ? 0.0 : median(pp), tg_med = tg.empty() ? 0.0 : median(tg);
             if (a->json) {
                 nlohmann::json j;
                 j["model"] = a->model;
                 j["threads"] = threads;
                 j["n_prompt"] = a->prompt;
                 j["n_gen"] = a->gen;
                 j["repetitions"] = a->reps;
                 j["pp_tokens_per_second"] = pp_med;
                 j["tg_tokens_per_second"] = tg_med;
                 j["pp_runs"] = pp;
                 j["tg_runs"] = tg;
                 j["memory_bandwidth_gbs"] = bw_gbs;
                 j["weight_bytes_per_token"] = bytes;
                 j["tg_roofline_tokens_per_second"] = roofline;
                 j["tg_roofline_percent"] = 100.0 * tg_med / roofline;
                 j["peak_rss_bytes"] = static_cast<uint64_t>(rss) * 1024;
                 j["file_bytes"] = m.file->total_size();
                 j["kv_cache_bytes"] = ctx.kv().bytes();
                 j["kv_cache_peak_bytes"] = ctx.kv().peak_bytes();
                 j["load_seconds"] = load_s;
                 std::printf("%s\n", j.dump().c_str());
             } else {
                 std::printf("model      %s (%s)\n", a->model.c_str(), human_bytes(m.file->total_size()).c_str());
                 std::printf("threads    %d\n", threads);
                 if (a->prompt > 0) std::printf("pp%-5d    %8.1f tok/s   (median of %d)\n", a->prompt, pp_med, a->reps);
                 if (a->gen > 0) std::printf("tg%-5d    %8.1f tok/s   (median of %d)\n", a->gen, tg_med, a->reps);
                 std::printf("bandwidth  %8.1f GB/s read (%d threads)\n", bw_gbs, threads);
                 std::printf("weights    %s per token -> roofline %.1f tok/s; tg at %.0f %%\n",
                             human_bytes(bytes).c_str(), roofline, 100.0 * tg_med / roofline);
                 std::printf(
                     "memory     peak resident %s (KV cache %s reserved, %s written); load + first token %.2f s\n",
                     human_bytes(static_cast<uint64_t>(rss) * 1024).c_str(), human_bytes(ctx.kv().bytes()).c_str(),
                     human_bytes(ctx.kv().peak_bytes()).c_str(), load_s);
             }
             return kExitOk;
         }});
}

}  // namespace tf::cli
