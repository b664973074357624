#include <cstdio>
#include <exception>

#include "cli/command.h"
#include "cli/model_argument.h"
#include "hub/store.h"
#include "tokenizer/chat/chat_template.h"

namespace tf::cli {

void print_error(const std::string& what, const std::string& why) {
    std::fprintf(stderr, "terraferma: %s: %s\n", what.c_str(), why.c_str());
}

void print_error(const std::string& message) {
    std::fprintf(stderr, "terraferma: %s\n", message.c_str());
}

}  // namespace tf::cli

int main(int argc, char** argv) {
    using namespace tf::cli;
    // A model pulled from an Ollama registry without a chat template in its GGUF renders
    // conversations with the registry's template, in every command and in the server.
    tf::chat::set_registry_template_lookup(tf::hub::registry_template_for);
    CLI::App app{"Terraferma: a local-first AI engine for GGUF models.", "terraferma"};
    app.set_version_flag("--version", "terraferma 0.2.0");
    app.require_subcommand(1);
    app.fallthrough(false);

    Commands commands;
    add_inspect_command(app, commands);
    add_models_command(app, commands);
    add_quantize_command(app, commands);
    add_tokenize_commands(app, commands);
    add_template_command(app, commands);
    add_logits_command(app, commands);
    add_run_command(app, commands);
    add_chat_command(app, commands);
    add_bench_command(app, commands);
    add_serve_command(app, commands);
    add_document_commands(app, commands);
    add_worker_command(app, commands);
    add_text_command(app, commands);
    add_embed_commands(app, commands);
    add_privacy_commands(app, commands);
    add_audit_commands(app, commands);
    add_ledger_commands(app, commands);
    add_batch_command(app, commands);
    add_hub_commands(app, commands);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version arrive as "errors" with exit code 0; CLI11 prints the help of the
        // subcommand they were given to.
        if (e.get_exit_code() == 0) return app.exit(e);
        print_error(std::string(e.what()) + " (see 'terraferma --help')");
        return kExitUsage;
    }
    if (auto e = take_model_error()) {
        print_error(*e);
        return kExitFailure;
    }

    try {
        for (auto& c : commands) {
            if (c.app->parsed()) return c.run();
        }
    } catch (const std::exception& e) {
        print_error("internal error", e.what());
        return kExitFailure;
    }
    print_error("no command given (see 'terraferma --help')");
    return kExitUsage;
}
