// terraferma models synth --like NAME --type TYPE [--vocab-from VOCAB.gguf] [--seed N] OUT
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/command.h"
#include "gguf/file.h"
#include "gguf/writer.h"
#include "model/quantize.h"
#include "model/synth.h"
#include "util/progress.h"

namespace tf::cli {

void add_models_command(CLI::App& root, Commands& commands) {
    CLI::App* models = root.add_subcommand("models", "Make and manage local models");
    models->require_subcommand(1);
    add_hub_commands_under(models, commands);

    struct SynthArgs {
        std::string like, type = "F16", vocab_from, out;
        uint64_t seed = 42;
        uint32_t layers = 0;
        bool list = false;
    };
    auto a = std::make_shared<SynthArgs>();
    CLI::App* synth = models->add_subcommand(
        "synth",
        "Write a random-weight model with the exact shapes and metadata of a real one (for demos and "
        "benchmarks)");
    std::string shapes;
    for (const auto& s : model::synth_shapes()) shapes += (shapes.empty() ? "" : ", ") + s.name;
    synth->add_option("--like", a->like, "Model shape: " + shapes);
    synth
        ->add_option("--type", a->type,
                     "Weight type: F32, F16, BF16, or a quantization recipe (Q8_0, Q4_0, Q4_K_M, …: the F16 model is "
                     "quantized as 'quantize' would)")
        ->capture_default_str();
    synth->add_option("--vocab-from", a->vocab_from, "Copy the tokenizer of this GGUF (e.g. a real vocabulary)");
    synth->add_option("--seed", a->seed, "Seed of the random weights")->capture_default_str();
    synth->add_option(
        "--layers", a->layers,
        "Number of layers instead of the shape's (a scaled-down model with the real per-layer shapes, e.g. a "
        "MoE's expert count and sizes)");
    synth->add_flag("--list", a->list, "List the known shapes and exit");
    synth->add_option("out", a->out, "Output GGUF path");

    commands.push_back(
        {synth, [a]() {
             if (a->list) {
                 for (const auto& s : model::synth_shapes()) {
                     std::printf("%-14s %-8s vocab %-6u embd %-5u layers %-3u heads %u/%u ff %u", s.name.c_str(),
                                 s.arch.c_str(), s.n_vocab, s.n_embd, s.n_layer, s.n_head, s.n_head_kv,
                                 s.n_expert ? s.n_ff_expert : s.n_ff);
                     if (s.n_expert) std::printf(" experts %u (%u used)", s.n_expert, s.n_expert_used);
                     std::printf("\n");
                 }
                 return kExitOk;
             }
             if (a->like.empty() || a->out.empty()) {
                 print_error("models synth", "--like NAME and an output path are required (see --help)");
                 return kExitUsage;
             }
             auto type = tensor_type_from_name(a->type);
             const bool float_type =
                 type && (*type == TensorType::F32 || *type == TensorType::F16 || *type == TensorType::BF16);
             std::optional<model::QuantizeRecipe> recipe;
             if (!float_type) {
                 recipe = model::find_recipe(a->type);
                 if (!recipe) {
                     std::string names;
                     for (const auto& n : model::recipe_names()) names += " " + n;
                     print_error("models synth", "unknown type '" + a->type + "' (F32 F16 BF16" + names + ")");
                     return kExitUsage;
                 }
             }
             // Quantized types: synthesize in F16 next to the output, then quantize.
             const std::string synth_path = float_type ? a->out : a->out + ".f16.partial." + std::to_string(::getpid());
             model::SynthOptions o;
             o.like = a->like;
             o.type = float_type ? *type : TensorType::F16;
             o.vocab_from = a->vocab_from;
             o.seed = a->seed;
             o.n_layer = a->layers;
             Progress progress("writing " + synth_path);
             o.on_progress = [&](uint64_t d, uint64_t t) { progress.update(d, t); };
             Status st = model::synthesize_model(o, synth_path);
             progress.finish();
             if (!st) {
                 print_error("models synth", st.error().message);
                 return kExitFailure;
             }
             if (recipe) {
                 model::QuantizeOptions q;
                 q.recipe = *recipe;
                 Progress qp("quantizing to " + recipe->name);
                 q.on_progress = [&](uint64_t d, uint64_t t) { qp.update(d, t); };
                 q.on_note = [](const std::string& note) { std::fprintf(stderr, "note: %s\n", note.c_str()); };
                 st = model::quantize_model(synth_path, a->out, q);
                 qp.finish();
                 std::error_code ec;
                 std::filesystem::remove(synth_path, ec);
                 if (!st) {
                     print_error("models synth", st.error().message);
                     return kExitFailure;
                 }
             }
             return kExitOk;
         }});

    struct SplitArgs {
        std::string in, out;
        int parts = 2;
    };
    auto sa = std::make_shared<SplitArgs>();
    CLI::App* split = models->add_subcommand(
        "split",
        "Write a GGUF as N files (NAME-00001-of-0000N.gguf, as llama.cpp's gguf-split), e.g. for a disk "
        "with a 4 GiB file limit; every command opens the first part as the whole model");
    split->add_option("in", sa->in, "GGUF model file")->required()->check(CLI::ExistingFile);
    split->add_option("out", sa->out, "First part to write: NAME-00001-of-0000N.gguf")->required();
    split->add_option("--parts", sa->parts, "Number of files")->capture_default_str()->check(CLI::Range(2, 9999));
    commands.push_back({split, [sa]() {
                            auto file = gguf::File::open(sa->in);
                            if (!file) {
                                print_error("models split", file.error().message);
                                return kExitFailure;
                            }
                            Progress p("splitting");
                            auto st = gguf::write_split(*file, sa->out, sa->parts,
                                                        [&](uint64_t d, uint64_t t) { p.update(d, t); });
                            p.finish();
                            if (!st) {
                                print_error("models split", st.error().message);
                                return kExitFailure;
                            }
                            return kExitOk;
                        }});
}

}  // namespace tf::cli
