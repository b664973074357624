// Flags shared by the commands that generate text (run, chat): model, context, threads and the
// sampler's parameters, with the defaults of CLI.md.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/kv_cache_flags.h"
#include "engine/generate.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace tf::cli {

struct GenerationFlags {
    std::string model;
    int threads = 0;
    int ctx_size = 4096;
    int n_predict = -1;
    bool ignore_eos = false;
    bool no_jump_forward = false;
    bool no_close_at_limit = false;
    std::vector<std::string> stop;
    std::vector<std::string> logit_bias;  // "ID=BIAS" or "ID=-inf"
    sampling::SamplingParams sampling;
    std::string grammar_file, json_schema_file;
    bool flexible_whitespace = false, ignore_unsupported = false, open_objects = false, strict_schema = false;
    KvCacheFlags kv;

    // What --grammar or --json-schema asks of the answer, or null without either.
    Result<std::shared_ptr<const engine::OutputContract>> contract(const tok::Tokenizer& tokenizer) const;

    void add_to(CLI::App* app, int default_n_predict);
    // Everything a generating command needs, or a message naming what is wrong.
    Result<engine::GenerateOptions> options(int64_t n_vocab) const;
    int thread_count() const;
    // Context size, threads and KV cache types for this model, or what is wrong with them.
    Result<model::ContextOptions> context_options(const model::Model& model) const;
};

struct LoadedModel {
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tok::Tokenizer> tokenizer;
};
Result<LoadedModel> load_model_and_tokenizer(const std::string& path);

}  // namespace tf::cli
