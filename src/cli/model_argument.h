// -m/--model everywhere: a GGUF file, or a model name from the local store (pull, import).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace tf::cli {

// A name that is neither a file nor in the store is a runtime error (exit 1), not bad usage, and
// a usage error elsewhere on the line must still win: the transform records it, and main
// reports it once parsing succeeded.
std::optional<std::string> take_model_error();

// A CLI11 transform that replaces a store name by the path of its file. An existing file, or
// anything that looks like a path, is kept as given (the command reports a missing file itself).
CLI::Validator model_reference();

// add_option("-m,--model", target, help) with model_reference(), required.
CLI::Option* add_model_option(CLI::App* app, std::string& target,
                              const std::string& help = "GGUF model file or store name");

}  // namespace tf::cli
