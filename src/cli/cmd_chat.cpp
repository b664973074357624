// terraferma chat -m MODEL [--system TEXT] — an interactive conversation on the terminal.
// Each turn re-renders the whole conversation with the model's chat template; the KV cache
// keeps the common prefix, so only the new turn is evaluated.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/command.h"
#include "cli/generation_flags.h"
#include "engine/chat_prompt.h"

namespace tf::cli {

void add_chat_command(CLI::App& root, Commands& commands) {
    struct Args {
        GenerationFlags gen;
        std::string system;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand(
        "chat",
        "Talk with a model in the terminal (one line per message; /reset starts over, /exit or end of input quits)");
    a->gen.add_to(app, 1024);
    app->add_option("--system", a->system, "System message");
    commands.push_back({app, [a]() {
                            auto loaded = load_model_and_tokenizer(a->gen.model);
                            if (!loaded) {
                                print_error("chat", loaded.error().message);
                                return kExitFailure;
                            }
                            auto opts = a->gen.options(loaded->model->hp.n_vocab);
                            if (!opts) {
                                print_error("chat", opts.error().message);
                                return kExitUsage;
                            }
                            if (!a->gen.grammar_file.empty()) {
                                print_error("chat", "--grammar applies to run (one constrained answer), not to chat");
                                return kExitUsage;
                            }
                            auto tmpl = chat::ChatTemplate::from_model(*loaded->model->file);
                            if (!tmpl) {
                                print_error("chat", tmpl.error().message);
                                return kExitFailure;
                            }
                            if (tmpl->is_default())
                                std::fprintf(stderr, "(the model has no chat template; using ChatML)\n");
                            auto co = a->gen.context_options(*loaded->model);
                            if (!co) {
                                print_error("chat", co.error().message);
                                return kExitUsage;
                            }
                            engine::Session session(*loaded->model, *loaded->tokenizer, *co);
                            chat::ChatRequest req;
                            auto reset = [&] {
                                req.messages = nlohmann::ordered_json::array();
                                if (!a->system.empty())
                                    req.messages.push_back({{"role", "system"}, {"content", a->system}});
                            };
                            reset();
                            const bool tty = isatty(fileno(stdin));
                            std::string line;
                            while (true) {
                                if (tty) std::fprintf(stderr, "> ");
                                if (!std::getline(std::cin, line)) break;
                                if (line == "/exit" || line == "/quit") break;
                                if (line == "/reset") {
                                    reset();
                                    continue;
                                }
                                if (line.empty()) continue;
                                req.messages.push_back({{"role", "user"}, {"content", line}});
                                auto prompt = engine::render_chat(*loaded->tokenizer, *tmpl, req);
                                if (!prompt) {
                                    print_error("chat", prompt.error().message);
                                    return kExitFailure;
                                }
                                auto r = session.generate(prompt->tokens, *opts, [](std::string_view text) {
                                    std::fwrite(text.data(), 1, text.size(), stdout);
                                    std::fflush(stdout);
                                    return true;
                                });
                                std::fputc('\n', stdout);
                                std::fflush(stdout);
                                if (!r) {
                                    print_error("chat", r.error().message);
                                    req.messages.erase(req.messages.end() - 1);
                                    continue;
                                }
                                req.messages.push_back({{"role", "assistant"}, {"content", r->text}});
                            }
                            return kExitOk;
                        }});
}

}  // namespace tf::cli
