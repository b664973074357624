// Every subcommand registers itself on the root CLI11 app and returns its exit code when run:
// 0 success, 1 runtime error, 2 bad usage (CLI.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace tf::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Command {
    CLI::App* app;
    std::function<int()> run;
};

using Commands = std::vector<Command>;

// Prints "terraferma: <what>: <why>" to stderr.
void print_error(const std::string& what, const std::string& why);
void print_error(const std::string& message);

void add_inspect_command(CLI::App& root, Commands& commands);
void add_models_command(CLI::App& root, Commands& commands);
void add_quantize_command(CLI::App& root, Commands& commands);
void add_tokenize_commands(CLI::App& root, Commands& commands);
void add_template_command(CLI::App& root, Commands& commands);
void add_logits_command(CLI::App& root, Commands& commands);
void add_run_command(CLI::App& root, Commands& commands);
void add_chat_command(CLI::App& root, Commands& commands);
void add_bench_command(CLI::App& root, Commands& commands);
void add_serve_command(CLI::App& root, Commands& commands);
void add_document_commands(CLI::App& root, Commands& commands);
// worker: computes documents from a shared (PostgreSQL) queue.
void add_worker_command(CLI::App& root, Commands& commands);
void add_ledger_commands(CLI::App& root, Commands& commands);
void add_batch_command(CLI::App& root, Commands& commands);
void add_text_command(CLI::App& root, Commands& commands);
void add_embed_commands(CLI::App& root, Commands& commands);
// privacy scan, privacy redact: the privacy guard on a text.
void add_privacy_commands(CLI::App& root, Commands& commands);
// audit verify: the routing audit log's hash chain.
void add_audit_commands(CLI::App& root, Commands& commands);
// pull, list, show, rm, cp, import, export: at the top level, and under `models`.
void add_hub_commands(CLI::App& root, Commands& commands);
void add_hub_commands_under(CLI::App* models, Commands& commands);

}  // namespace tf::cli
