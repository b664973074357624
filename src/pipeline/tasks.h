// The document tasks: extract (JSON valid against a schema), classify (one label with a
// confidence from the model's probabilities), summarize (map-reduce over chunks). Each runs
// greedily on its own context, so a document's result depends only on the model, the task
// configuration and the document — never on the order or company it was processed in.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "model/model.h"
#include "pipeline/document.h"
#include "pipeline/merge.h"
#include "tokenizer/chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tf::pipeline {

// Bumped whenever the same inputs can give other outputs (0.2.0: jump-forward in constrained
// decoding; 0.3.0: answers judged with format assertion, results keyed by how a file is read).
inline constexpr const char* kEngineVersion = "terraferma 0.3.0";

struct TaskConfig {
    std::string kind;                 // extract, classify, summarize
    nlohmann::ordered_json schema;    // extract
    std::vector<std::string> labels;  // classify
    int summary_words = 120;          // summarize
    std::string prompt;               // template; empty: the built-in one for the task
    int n_ctx = 4096;
    int max_output_tokens = 1024;
    TensorType k_type = TensorType::F16;  // KV cache (a q8_0 cache changes results a little)
    TensorType v_type = TensorType::F16;
    // Sliding-window layers' slack (model::ContextOptions::swa_extra). Results do not depend on
    // it, so it is not part of key().
    int swa_extra = model::ContextOptions::kDefaultSwaExtra;

    // The route documents go through (RunOptions::route), as it decides results: its name and
    // the digest of its tiers, policy and thresholds. Empty: the model alone.
    std::string route_key;

    // Identifies the configuration in the job store (changing any of it recomputes).
    std::string key(const std::string& model_sha256) const;
    std::string effective_prompt() const;

    // The whole configuration as JSON, for a worker on another machine (a shared queue's job);
    // from_json(to_json()) has the same key().
    nlohmann::ordered_json to_json() const;
    static Result<TaskConfig> from_json(const nlohmann::ordered_json& j);
};

// Built-in prompt templates; {document}, {schema}, {labels}, {words} are replaced.
const char* default_prompt(const std::string& kind);
// The user message a task sends for a text: the template with its fields filled in.
std::string task_prompt(const TaskConfig& config, const std::string& text);

// Where a document's finished steps are kept — a chunk's answer, a choice between values — so
// that a run killed in the middle of a long document resumes where it stopped. A step's value
// is what it computed, so a resumed document ends bit-identical to one done at once.
struct StepMemo {
    std::function<std::optional<std::string>(const std::string& step)> get;
    std::function<void(const std::string& step, const std::string& value)> put;
};

class TaskRunner {
  public:
    TaskRunner(const model::Model& model, const tok::Tokenizer& tokenizer, const chat::ChatTemplate& tmpl,
               const TaskConfig& config, int n_threads);
    // The task's result for one document, as JSON: {"output": …, "provenance": …} or an error.
    Result<nlohmann::ordered_json> run(const Document& doc, const StepMemo* memo = nullptr);
    // Prompt and generated tokens of the last run.
    uint64_t tokens_in() const { return tokens_in_; }
    uint64_t tokens_out() const { return tokens_out_; }
    // Seconds spent inside the model (prompt evaluation and decoding), summed over runs: the
    // rest of a document's time is ingestion, chunking, tokenizing and the store.
    double model_seconds() const { return model_seconds_; }

  private:
    Result<std::vector<int32_t>> prompt_tokens(const std::string& document_text);
    Result<std::string> generate(const std::string& document_text, int max_tokens,
                                 std::shared_ptr<sampling::Constraint> c);
    // generate(), or its answer from the memo when an earlier (killed) run finished this step.
    Result<std::string> generate_step(const std::string& step, const std::string& text, int max_tokens,
                                      std::shared_ptr<sampling::Constraint> c);
    Result<nlohmann::ordered_json> extract(const Document& doc);
    Result<nlohmann::ordered_json> classify(const Document& doc);
    Result<nlohmann::ordered_json> summarize(const Document& doc);
    int budget_for_document() const;
    Result<size_t> choose(const std::string& field, const std::vector<Candidate>& candidates);

    const model::Model& model_;
    const tok::Tokenizer& tok_;
    const chat::ChatTemplate& tmpl_;
    TaskConfig cfg_;
    std::unique_ptr<engine::Session> session_;
    std::shared_ptr<const void> trie_;                        // grammar::TokenTrie, built once
    std::shared_ptr<const engine::OutputContract> contract_;  // the schema's, built at the first extract
    uint64_t tokens_in_ = 0, tokens_out_ = 0;
    double model_seconds_ = 0;
    engine::StopReason last_stop_ = engine::StopReason::Eos;  // of the last generate
    const StepMemo* memo_ = nullptr;                          // during run()
};

}  // namespace tf::pipeline
