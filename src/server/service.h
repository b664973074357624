// What the HTTP front ends share: the loaded model and its tokenizer, chat template and token
// trie, the continuous-batching scheduler, and turning API parameters into generation
// requests. Knows nothing of HTTP itself.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/embed.h"
#include "engine/output_contract.h"
#include "engine/scheduler.h"
#include "engine/tool_calls.h"
#include "model/model.h"
#include "sampling/grammar/token_mask.h"
#include "tokenizer/chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tf::server {

// An error with the HTTP status it maps to.
struct ApiError {
    int status = 400;
    std::string message;
    std::string param;  // the offending field, when there is one
};

struct ServiceOptions {
    engine::SchedulerOptions scheduler;
    std::string pooling;  // embeddings: mean, cls or last; empty: what the model's metadata says
};

class Service {
  public:
    static Result<std::unique_ptr<Service>> load(const std::string& model_path, const ServiceOptions& options);

    const std::string& model_name() const { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }
    const model::Model& model() const { return *model_; }
    const tok::Tokenizer& tokenizer() const { return *tok_; }
    const chat::ChatTemplate& chat_template() const { return *template_; }
    engine::Scheduler& scheduler() { return *scheduler_; }
    const std::string& path() const { return path_; }

    // What a request asks of its answer, compiled once and shared by every request asking the
    // same (masks included); null with `err` set (400, naming the keyword) when it cannot be.
    std::shared_ptr<const engine::OutputContract> schema_contract(const nlohmann::ordered_json& schema, bool strict, ApiError& err) const;
    std::shared_ptr<const engine::OutputContract> tools_contract(const nlohmann::ordered_json& tools, const engine::ToolChoice& choice,
                                                                 ApiError& err) const;
    // Renders messages (and tools, when given) with the chat template; message contents stay
    // plain text.
    bool render(const nlohmann::ordered_json& messages, std::vector<int32_t>& tokens, ApiError& err,
                const nlohmann::ordered_json* tools = nullptr) const;
    engine::ToolSyntax tool_syntax() const { return tool_syntax_; }

    // Embeddings run on a context of their own, created at the first request and holding
    // n_ctx_per_slot tokens over up to 8 sequences; one request at a time.
    Result<std::vector<float>> embed(const std::vector<int32_t>& tokens);
    // Several inputs at once, packed into shared passes (the same vectors as one at a time).
    Result<std::vector<std::vector<float>>> embed_many(const std::vector<std::vector<int32_t>>& inputs);
    int embedding_max_tokens() const;
    // Encoders (BERT) embed and, with a classification head, rerank; they do not generate.
    bool generative() const { return static_cast<bool>(model_->output); }
    bool reranker() const { return engine::is_reranker(*model_); }
    // A cross-encoder's raw relevance score of a document for a query (on the embedding context).
    Result<float> rerank(std::string_view query, std::string_view document, size_t& n_tokens);
    // 400 naming the model when it cannot generate (an embedding or reranking model).
    bool check_generative(ApiError& err) const;
    engine::Pooling pooling() const { return pooling_; }

  private:
    std::string name_, path_;
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
    using Build = std::function<Result<std::shared_ptr<const engine::OutputContract>>()>;
    std::shared_ptr<const engine::OutputContract> cached_contract(const std::string& key, const Build& build, const char* param,
                                                                  ApiError& err) const;
    std::mutex embed_mu_;
    std::unique_ptr<model::Context> embed_ctx_;
};

}  // namespace tf::server
