// terraferma models synth --like NAME --type TYPE [--vocab-from VOCAB.gguf] [--seed N] OUT
#include <cstdio>

#include "cli/command.h"
#include "model/synth.h"
#include "util/progress.h"

namespace tf::cli {

void add_models_command(CLI::App& root, Commands& commands) {
    CLI::App* models = root.add_subcommand("models", "Make and manage local models");
    models->require_subcommand(1);

    struct SynthArgs {
        std::string like, type = "F16", vocab_from, out;
        uint64_t seed = 42;
        bool list = false;
    };
    auto a = std::make_shared<SynthArgs>();
    CLI::App* synth = models->add_subcommand(
        "synth", "Write a random-weight model with the exact shapes and metadata of a real one (for demos and "
                 "benchmarks)");
    std::string shapes;
    for (const auto& s : model::synth_shapes()) shapes += (shapes.empty() ? "" : ", ") + s.name;
    synth->add_option("--like", a->like, "Model shape: " + shapes);
    synth->add_option("--type", a->type, "Type of the weight matrices: F32, F16, BF16")->capture_default_str();
    synth->add_option("--vocab-from", a->vocab_from, "Copy the tokenizer of this GGUF (e.g. a real vocabulary)");
    synth->add_option("--seed", a->seed, "Seed of the random weights")->capture_default_str();
    synth->add_flag("--list", a->list, "List the known shapes and exit");
    synth->add_option("out", a->out, "Output GGUF path");

    commands.push_back({synth, [a]() {
        if (a->list) {
            for (const auto& s : model::synth_shapes()) {
                std::printf("%-14s %-7s vocab %-6u embd %-5u layers %-3u heads %u/%u ff %u\n", s.name.c_str(),
                            s.arch.c_str(), s.n_vocab, s.n_embd, s.n_layer, s.n_head, s.n_head_kv, s.n_ff);
            }
            return kExitOk;
        }
        if (a->like.empty() || a->out.empty()) {
            print_error("models synth", "--like NAME and an output path are required (see --help)");
            return kExitUsage;
        }
        auto type = tensor_type_from_name(a->type);
        if (!type) {
            print_error("models synth", "unknown type '" + a->type + "'");
            return kExitUsage;
        }
        model::SynthOptions o;
        o.like = a->like;
        o.type = *type;
        o.vocab_from = a->vocab_from;
        o.seed = a->seed;
        Progress progress("writing " + a->out);
        o.on_progress = [&](uint64_t d, uint64_t t) { progress.update(d, t); };
        Status st = model::synthesize_model(o, a->out);
        progress.finish();
        if (!st) {
            print_error("models synth", st.error().message);
            return kExitFailure;
        }
        return kExitOk;
    }});
}

}  // namespace tf::cli
