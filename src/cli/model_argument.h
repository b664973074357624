// -m/--model everywhere: a GGUF file, or a model name from the local store (pull, import).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace tf::cli {

// A CLI11 transform that replaces a store name by the path of its file (an existing file is
// kept as given); an unknown name fails parsing with a message saying where it looked.
CLI::Validator model_reference();

// add_option("-m,--model", target, help) with model_reference(), required.
CLI::Option* add_model_option(CLI::App* app, std::string& target,
                              const std::string& help = "GGUF model file or store name");

}  // namespace tf::cli
