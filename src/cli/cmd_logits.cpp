// terraferma logits -m MODEL (--prompt TEXT | --ids 1,2,3) [--top K] [--all-positions] [--out FILE.bin] [-c N]
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "cli/kv_cache_flags.h"
#include "cli/model_argument.h"
#include "model/context.h"
#include "tokenizer/tokenizer.h"
#include "util/thread_pool.h"

namespace tf::cli {

void add_logits_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::string model, prompt, ids, out;
        int top = 16, threads = 0, ctx = 0;
        bool all_positions = false, llama_cpp_numerics = false;
        KvCacheFlags kv;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand("logits", "Print the model's next-token logits (JSON) for a prompt");
    add_model_option(app, a->model);
    app->add_option("-p,--prompt", a->prompt, "Prompt text (tokenized with BOS as the model says)");
    app->add_option("--ids", a->ids, "Token ids instead of a prompt: 1,2,3");
    app->add_option("--top", a->top, "How many of the highest logits to print per position")->capture_default_str();
    app->add_flag("--all-positions", a->all_positions, "Print every position, not only the last");
    app->add_option("--out", a->out, "Also write the last position's full logits (little-endian float32)");
    app->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
    app->add_option("-c,--ctx-size", a->ctx,
                    "Context size in tokens (default: the prompt's length); LongRoPE models choose their factors by "
                    "it, as llama.cpp's -c does")
        ->check(CLI::Range(1, 1 << 20));
    a->kv.add_to(app);
    app->add_flag("--llama-cpp-attention", a->llama_cpp_numerics,
                  "Compute as llama.cpp's x86 CPU backend does: its attention kernels (depend on the batch) and, where "
                  "known, its matrix-product order (for comparisons)");
    commands.push_back(
        {app, [a]() {
             auto model = model::Model::load(a->model);
             if (!model) {
                 print_error("logits", model.error().message);
                 return kExitFailure;
             }
             std::vector<int32_t> ids;
             if (!a->ids.empty()) {
                 std::stringstream ss(a->ids);
                 std::string item;
                 while (std::getline(ss, item, ',')) {
                     try {
                         ids.push_back(static_cast<int32_t>(std::stol(item)));
                     } catch (const std::exception&) {
                         print_error("logits", "--ids: '" + item + "' is not a token id");
                         return kExitUsage;
                     }
                 }
             } else {
                 auto tok = tok::Tokenizer::from_file(*(*model)->file);
                 if (!tok) {
                     print_error("logits", tok.error().message);
                     return kExitFailure;
                 }
                 ids = tok->encode(a->prompt, true, false);
             }
             if (ids.empty()) {
                 print_error("logits", "nothing to evaluate: give --prompt or --ids");
                 return kExitUsage;
             }
             const int threads = a->threads > 0 ? a->threads : ThreadPool::default_threads();
             model::ContextOptions co;
             if (a->ctx > 0 && static_cast<size_t>(a->ctx) < ids.size()) {
                 print_error("logits", "the prompt's " + std::to_string(ids.size()) +
                                           " tokens do not fit a context of " + std::to_string(a->ctx));
                 return kExitUsage;
             }
             co.n_ctx = a->ctx > 0 ? a->ctx : static_cast<int>(std::max<size_t>(ids.size(), 1));
             co.n_threads = threads;
             if (a->llama_cpp_numerics) co.attention = model::AttentionNumerics::LlamaCppCompatible;
             if (Status st = a->kv.apply(**model, co); !st) {
                 print_error("logits", st.error().message);
                 return kExitUsage;
             }
             model::Context ctx(**model, co);
             auto logits = ctx.decode(ids, a->all_positions);
             if (!logits) {
                 print_error("logits", logits.error().message);
                 return kExitFailure;
             }
             const int64_t n_vocab = (*model)->hp.n_vocab;
             const int64_t rows = static_cast<int64_t>(logits->size()) / n_vocab;
             nlohmann::json j;
             j["n_vocab"] = n_vocab;
             j["tokens"] = ids;
             j["positions"] = nlohmann::json::array();
             for (int64_t r = 0; r < rows; ++r) {
                 const float* row = logits->data() + r * n_vocab;
                 std::vector<int32_t> order(static_cast<size_t>(n_vocab));
                 for (int32_t i = 0; i < n_vocab; ++i) order[static_cast<size_t>(i)] = i;
                 const int64_t k = std::min<int64_t>(a->top, n_vocab);
                 std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t x, int32_t y) {
                     return row[x] > row[y] || (row[x] == row[y] && x < y);
                 });
                 nlohmann::json top = nlohmann::json::array();
                 for (int64_t i = 0; i < k; ++i)
                     top.push_back({order[static_cast<size_t>(i)], row[order[static_cast<size_t>(i)]]});
                 j["positions"].push_back(
                     {{"pos", a->all_positions ? r : static_cast<int64_t>(ids.size()) - 1}, {"top", top}});
             }
             if (!a->out.empty()) {
                 std::FILE* f = std::fopen(a->out.c_str(), "wb");
                 const float* last = logits->data() + (rows - 1) * n_vocab;
                 if (f == nullptr ||
                     std::fwrite(last, 4, static_cast<size_t>(n_vocab), f) != static_cast<size_t>(n_vocab)) {
                     if (f) std::fclose(f);
                     print_error("logits", a->out + ": cannot write");
                     return kExitFailure;
                 }
                 std::fclose(f);
             }
             std::printf("%s\n", j.dump().c_str());
             return kExitOk;
         }});
}

}  // namespace tf::cli
