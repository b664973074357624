// What the API front ends share: the loaded model and its tokenizer, chat template and token
// trie, the continuous-batching scheduler, and the compiled output contracts requests ask for.
// Knows nothing of HTTP.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "api/error.h"
#include "engine/embed.h"
#include "engine/output_contract.h"
#include "engine/scheduler.h"
#include "engine/tool_calls.h"
#include "model/model.h"
#include "sampling/grammar/token_mask.h"
#include "tokenizer/chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tf::api {

// A stored model's own defaults — the system and parameters layers of an Ollama registry, or
// of /api/create: a system prompt for conversations that bring none, and option values (Ollama's
// names: temperature, stop, num_predict, …) for requests that do not set them.
struct ModelDefaults {
    std::string system;
    nlohmann::ordered_json options = nlohmann::ordered_json::object();
};

struct ServiceOptions {
    engine::SchedulerOptions scheduler;
    std::string pooling;  // embeddings: mean, cls or last; empty: what the model's metadata says
};

class Service {
  public:
    static tf::Result<std::unique_ptr<Service>> load(const std::string& model_path, const ServiceOptions& options);

    const std::string& model_name() const { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }
    const model::Model& model() const { return *model_; }
    const tok::Tokenizer& tokenizer() const { return *tok_; }
    const chat::ChatTemplate& chat_template() const { return *template_; }
    engine::Scheduler& scheduler() { return *scheduler_; }
    const std::string& path() const { return path_; }
    void set_defaults(ModelDefaults d) { defaults_ = std::move(d); }
    const ModelDefaults& defaults() const { return defaults_; }

    using Contract = std::shared_ptr<const engine::OutputContract>;
    // What a request asks of its answer, compiled once and shared by every request asking the
    // same (masks included); an error naming the keyword when it cannot be.
    Result<Contract> schema_contract(const nlohmann::ordered_json& schema, bool strict) const;
    Result<Contract> tools_contract(const nlohmann::ordered_json& tools, const engine::ToolChoice& choice) const;
    // Renders messages (and tools, when given) with the chat template; message contents stay
    // plain text. The model's default system prompt leads when no message is a system one.
    Result<std::vector<int32_t>> render(const nlohmann::ordered_json& messages,
                                        const nlohmann::ordered_json* tools = nullptr) const;
    // Queues a request; the scheduler's refusals keep their kind (overloaded, shutting down).
    Result<std::shared_ptr<engine::Job>> submit(engine::GenerationRequest r);
    engine::ToolSyntax tool_syntax() const { return tool_syntax_; }
    const ServiceOptions& options() const { return options_; }

    // Embeddings run on a context of their own, created at the first request and holding
    // n_ctx_per_slot tokens over up to 8 sequences; one request at a time.
    tf::Result<std::vector<float>> embed(const std::vector<int32_t>& tokens);
    // Several inputs at once, packed into shared passes (the same vectors as one at a time).
    tf::Result<std::vector<std::vector<float>>> embed_many(const std::vector<std::vector<int32_t>>& inputs);
    int embedding_max_tokens() const;
    // Encoders (BERT) embed and, with a classification head, rerank; they do not generate.
    bool generative() const { return static_cast<bool>(model_->output); }
    bool reranker() const { return engine::is_reranker(*model_); }
    // A cross-encoder's raw relevance score of a document for a query (on the embedding context).
    tf::Result<float> rerank(std::string_view query, std::string_view document, size_t& n_tokens);
    // An error naming the model when it cannot generate (an embedding or reranking model).
    Status check_generative() const;
    engine::Pooling pooling() const { return pooling_; }

  private:
    std::string name_, path_;
    ModelDefaults defaults_;
    std::unique_ptr<model::Model> model_;
    std::unique_ptr<tok::Tokenizer> tok_;
    std::unique_ptr<chat::ChatTemplate> template_;
    std::shared_ptr<const grammar::TokenTrie> trie_;
    std::unique_ptr<engine::Scheduler> scheduler_;
    engine::ToolSyntax tool_syntax_ = engine::ToolSyntax::Hermes;
    ServiceOptions options_;
    engine::Pooling pooling_ = engine::Pooling::Mean;
    // Compiled grammars with their masks, most recently used first: requests with the same
    // schema or grammar (every document of a pipeline, say) share them.
    static constexpr size_t kGrammarsKept = 16;
    mutable std::mutex grammar_mu_;
    mutable std::list<std::pair<std::string, std::shared_ptr<const engine::OutputContract>>> grammars_;
    using Build = std::function<tf::Result<Contract>()>;
    Result<Contract> cached_contract(const std::string& key, const Build& build, const char* param) const;
    std::mutex embed_mu_;
    std::unique_ptr<model::Context> embed_ctx_;
};

}  // namespace tf::api
