// terraferma run -m MODEL -p PROMPT [-n N] [sampling flags] [--json]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/generation_flags.h"

namespace tf::cli {

void add_run_command(CLI::App& root, Commands& commands) {
    struct Args {
        GenerationFlags gen;
        std::string prompt, file;
        bool json = false, no_bos = false, parse_special = false;
        int resample = 2;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand("run", "Generate text from a prompt, streamed as it comes");
    a->gen.add_to(app, 256);
    app->add_option("-p,--prompt", a->prompt, "Prompt text");
    app->add_option("-f,--file", a->file, "Read the prompt from a file ('-': standard input)");
    app->add_flag("--no-bos", a->no_bos, "Do not add the beginning-of-sequence token");
    app->add_option("--resample", a->resample,
                    "With --json-schema and --temp > 0: an answer failing a keyword the grammar cannot hold is drawn "
                    "again, up to N times "
                    "(seeds derived from --seed; 0: report the first)")
        ->capture_default_str()
        ->check(CLI::Range(0, 16));
    app->add_flag("--parse-special", a->parse_special, "Turn control-token text in the prompt into control tokens");
    app->add_flag("--json", a->json,
                  R"(Print one JSON object {"text","ids","prompt_ids","stop_reason","timings"} instead)");
    commands.push_back(
        {app, [a]() {
             if (!a->file.empty()) {
                 std::FILE* f = a->file == "-" ? stdin : std::fopen(a->file.c_str(), "rb");
                 if (f == nullptr) {
                     print_error("run", a->file + ": cannot open");
                     return kExitFailure;
                 }
                 char buf[65536];
                 size_t n;
                 while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) a->prompt.append(buf, n);
                 if (f != stdin) std::fclose(f);
             }
             if (a->prompt.empty()) {
                 print_error("run", "no prompt: give -p TEXT or -f FILE");
                 return kExitUsage;
             }
             auto loaded = load_model_and_tokenizer(a->gen.model);
             if (!loaded) {
                 print_error("run", loaded.error().message);
                 return kExitFailure;
             }
             auto opts = a->gen.options(loaded->model->hp.n_vocab);
             if (!opts) {
                 print_error("run", opts.error().message);
                 return kExitUsage;
             }
             const auto grammar_start = std::chrono::steady_clock::now();
             auto contract = a->gen.contract(*loaded->tokenizer);
             const double grammar_ms =
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - grammar_start).count();
             if (!contract) {
                 print_error("run", contract.error().message);
                 return kExitFailure;
             }
             const auto ids = loaded->tokenizer->encode(a->prompt, !a->no_bos, a->parse_special);
             auto co = a->gen.context_options(*loaded->model);
             if (!co) {
                 print_error("run", co.error().message);
                 return kExitUsage;
             }
             // A sampled answer under a schema with gaps may be drawn again when it fails the check
             // (twice at most): it is then printed once checked, not streamed.
             const bool may_redraw =
                 *contract && !(*contract)->gaps().empty() && opts->sampling.temperature > 0.0f && a->resample > 0;
             if (may_redraw) opts->resample = a->resample;
             engine::Session session(*loaded->model, *loaded->tokenizer, *co);
             auto sink = [&](std::string_view text) {
                 if (!a->json && !may_redraw) {
                     std::fwrite(text.data(), 1, text.size(), stdout);
                     std::fflush(stdout);
                 }
                 return true;
             };
             auto r = *contract ? session.generate(ids, *opts, sink, **contract) : session.generate(ids, *opts, sink);
             if (!r) {
                 if (!a->json) std::fputc('\n', stdout);
                 print_error("run", r.error().message);
                 return kExitFailure;
             }
             const engine::Timings& t = r->timings;
             if (a->json) {
                 nlohmann::json j;
                 j["text"] = r->text;
                 j["ids"] = r->ids;
                 j["prompt_ids"] = ids;
                 j["stop_reason"] = engine::stop_reason_name(r->stop_reason);
                 j["timings"] = {
                     {"prompt_tokens", t.n_prompt},
                     {"prompt_ms", t.prompt_ms},
                     {"prompt_tokens_per_second", t.prompt_ms > 0 ? t.n_prompt * 1000.0 / t.prompt_ms : 0.0},
                     {"generated_tokens", t.n_generated},
                     {"forced_tokens", t.n_forced},
                     {"generate_ms", t.generate_ms},
                     {"sample_ms", t.sample_ms},
                     {"generate_tokens_per_second", t.generate_ms > 0 ? t.n_generated * 1000.0 / t.generate_ms : 0.0}};
                 // Compiling --grammar/--json-schema: schema to grammar, vocabulary trie, precomputed masks.
                 if (*contract) {
                     j["timings"]["grammar_ms"] = grammar_ms;
                     j["valid"] = r->violations.empty();
                     j["violations"] = nlohmann::json::array();
                     for (const auto& v : r->violations)
                         j["violations"].push_back(
                             {{"path", v.instance_path}, {"keyword", v.keyword}, {"message", v.message}});
                 }
                 // Random-weight and truncated outputs need not be valid UTF-8: replace, do not throw.
                 std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
             } else {
                 if (may_redraw) std::fwrite(r->text.data(), 1, r->text.size(), stdout);
                 std::fputc('\n', stdout);
                 std::fprintf(stderr, "[%d prompt tokens %.1f tok/s, %d generated %.1f tok/s, stop: %s]\n", t.n_prompt,
                              t.prompt_ms > 0 ? t.n_prompt * 1000.0 / t.prompt_ms : 0.0, t.n_generated,
                              t.generate_ms > 0 ? t.n_generated * 1000.0 / t.generate_ms : 0.0,
                              engine::stop_reason_name(r->stop_reason));
             }
             // An answer that does not satisfy --json-schema/--grammar is never a success.
             if (!r->violations.empty()) {
                 print_error("run", "the answer is not valid against " +
                                        (a->gen.grammar_file.empty() ? a->gen.json_schema_file : a->gen.grammar_file) +
                                        ": " + engine::describe(r->violations.front()) +
                                        (r->violations.size() > 1
                                             ? " (and " + std::to_string(r->violations.size() - 1) + " more)"
                                             : ""));
                 return kExitFailure;
             }
             return kExitOk;
         }});
}

}  // namespace tf::cli
