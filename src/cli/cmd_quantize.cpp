// terraferma quantize IN OUT TYPE [--pure] [-t N]
#include <cstdio>

#include "cli/command.h"
#include "model/quantize.h"
#include "util/progress.h"

namespace tf::cli {

void add_quantize_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::string in, out, type;
        bool pure = false;
        int threads = 0;
    };
    auto a = std::make_shared<Args>();
    std::string types;
    for (const auto& n : model::recipe_names()) types += (types.empty() ? "" : " ") + n;
    CLI::App* app =
        root.add_subcommand("quantize", "Rewrite a GGUF model with another weight type (llama.cpp's mixes)");
    app->add_option("in", a->in, "Input GGUF (best: F32, F16 or BF16)")->required();
    app->add_option("out", a->out, "Output GGUF")->required();
    app->add_option("type", a->type, "Target: " + types)->required();
    app->add_flag("--pure", a->pure, "Give every 2-D weight exactly TYPE (no per-tensor recipe)");
    app->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
    app->footer(
        "Mixed types follow llama.cpp's recipe: e.g. Q4_K_M keeps output.weight at Q6_K and gives attn_v and\n"
        "ffn_down Q6_K in the first and last eighth of the layers and every third layer between.");

    commands.push_back({app, [a]() {
                            auto recipe = model::find_recipe(a->type);
                            if (!recipe) {
                                print_error("quantize",
                                            "unknown type '" + a->type + "' (see 'terraferma quantize --help')");
                                return kExitUsage;
                            }
                            model::QuantizeOptions o;
                            o.recipe = *recipe;
                            o.pure = a->pure;
                            o.threads = a->threads;
                            o.on_note = [](const std::string& m) {
                                std::fprintf(stderr, "terraferma: quantize: note: %s\n", m.c_str());
                            };
                            Progress progress("quantizing " + recipe->name);
                            o.on_progress = [&](uint64_t d, uint64_t t) { progress.update(d, t); };
                            Status st = model::quantize_model(a->in, a->out, o);
                            progress.finish();
                            if (!st) {
                                print_error("quantize", st.error().message);
                                return kExitFailure;
                            }
                            return kExitOk;
                        }});
}

}  // namespace tf::cli
