#include "api/service.h"

#include <algorithm>
#include <filesystem>

#include "engine/chat_prompt.h"

namespace tf::api {

tf::Result<std::unique_ptr<Service>> Service::load(const std::string& path, const ServiceOptions& o) {
    auto m = model::Model::load(path);
    if (!m) return m.error();
    auto t = tok::Tokenizer::from_file(*(*m)->file);
    if (!t) return t.error();
    auto tmpl = chat::ChatTemplate::from_model(*(*m)->file);
    if (!tmpl) return tmpl.error();
    const model::ContextOptions kv_check{
        1, 1, 1, model::AttentionNumerics::Float, o.scheduler.k_type, o.scheduler.v_type};
    if (tf::Status st = model::Context::check(**m, kv_check); !st) return tf::Error{path + ": " + st.error().message};
    auto s = std::make_unique<Service>();
    s->path_ = path;
    s->name_ = std::filesystem::path(path).stem().string();
    s->model_ = std::move(m.value());
    s->tok_ = std::make_unique<tok::Tokenizer>(std::move(t.value()));
    s->template_ = std::make_unique<chat::ChatTemplate>(std::move(tmpl.value()));
    s->trie_ = std::make_shared<const grammar::TokenTrie>(*s->tok_);
    s->scheduler_ = std::make_unique<engine::Scheduler>(*s->model_, *s->tok_, o.scheduler);
    s->tool_syntax_ = engine::detect_tool_syntax(s->template_->source());
    s->options_ = o;
    s->pooling_ = engine::model_pooling(*s->model_);
    if (!o.pooling.empty()) {
        auto p = engine::parse_pooling(o.pooling);
        if (!p) return p.error();
        s->pooling_ = *p;
    }
    return s;
}

int Service::embedding_max_tokens() const {
    const int slot = options_.scheduler.n_ctx_per_slot;
    // An encoder's learned positions end at its training context.
    return model_->pos_embd ? std::min<int>(slot, static_cast<int>(model_->pos_embd.rows())) : slot;
}

namespace {

model::Context& embedding_context(std::unique_ptr<model::Context>& ctx, const model::Model& m,
                                  const ServiceOptions& o) {
    if (!ctx) {
        constexpr int kPackedInputs = 8;
        ctx = std::make_unique<model::Context>(
            m, model::ContextOptions{o.scheduler.n_ctx_per_slot, kPackedInputs, o.scheduler.n_threads,
                                     model::AttentionNumerics::Float, o.scheduler.k_type, o.scheduler.v_type});
    }
    return *ctx;
}

}  // namespace

tf::Result<std::vector<float>> Service::embed(const std::vector<int32_t>& tokens) {
    std::lock_guard<std::mutex> lock(embed_mu_);
    return engine::embed(embedding_context(embed_ctx_, *model_, options_), tokens, pooling_);
}

tf::Result<std::vector<std::vector<float>>> Service::embed_many(const std::vector<std::vector<int32_t>>& inputs) {
    std::lock_guard<std::mutex> lock(embed_mu_);
    return engine::embed_many(embedding_context(embed_ctx_, *model_, options_), inputs, pooling_);
}

tf::Result<float> Service::rerank(std::string_view query, std::string_view document, size_t& n_tokens) {
    const auto tokens = engine::rerank_pair(*tok_, query, document);
    n_tokens = tokens.size();
    if (static_cast<int>(tokens.size()) > embedding_max_tokens()) {
        return tf::Error{"the query and document make " + std::to_string(tokens.size()) + " tokens; at most " +
                         std::to_string(embedding_max_tokens()) + " fit"};
    }
    std::lock_guard<std::mutex> lock(embed_mu_);
    return engine::rerank_score(embedding_context(embed_ctx_, *model_, options_), tokens);
}

Status Service::check_generative() const {
    if (generative()) return {};
    return bad_request("model '" + name_ + "' is " + (reranker() ? "a reranking" : "an embedding") + " model (" +
                           model_->hp.arch + "): it answers /v1/embeddings" + (reranker() ? " and /v1/rerank" : "") +
                           ", not text generation",
                       "model");
}

Result<std::shared_ptr<engine::Job>> Service::submit(engine::GenerationRequest r) {
    auto job = scheduler_->submit(std::move(r));
    if (!job) return from_engine(job.error());
    return *job;
}

Result<Service::Contract> Service::cached_contract(const std::string& key, const Build& build,
                                                   const char* param) const {
    {
        std::lock_guard<std::mutex> lock(grammar_mu_);
        for (auto it = grammars_.begin(); it != grammars_.end(); ++it) {
            if (it->first == key) {
                grammars_.splice(grammars_.begin(), grammars_, it);  // most recently used first
                return it->second;
            }
        }
    }
    auto c = build();
    if (!c) return from_engine(c.error(), param);
    std::lock_guard<std::mutex> lock(grammar_mu_);
    grammars_.emplace_front(key, *c);
    if (grammars_.size() > kGrammarsKept) grammars_.pop_back();
    return *c;
}

Result<Service::Contract> Service::schema_contract(const nlohmann::ordered_json& schema, bool strict) const {
    engine::ContractOptions o;
    o.strict = strict;
    return cached_contract(
        std::string("schema:") + (strict ? "strict:" : "") + schema.dump(),
        [&] {
            return engine::OutputContract::json_schema(schema, o, engine::Vocabulary{trie_, tok_->vocab().eog_tokens});
        },
        "response_format");
}

Result<Service::Contract> Service::tools_contract(const nlohmann::ordered_json& tools,
                                                  const engine::ToolChoice& choice) const {
    const std::string key = std::string("tools:") + engine::tool_syntax_name(choice.syntax) + ":" +
                            (choice.forced ? "forced:" : "auto:") + (choice.parallel ? "parallel:" : "single:") +
                            choice.only + ":" + tools.dump();
    return cached_contract(
        key,
        [&] {
            return engine::OutputContract::tools(tools, choice, {},
                                                 engine::Vocabulary{trie_, tok_->vocab().eog_tokens});
        },
        "tools");
}

Result<std::vector<int32_t>> Service::render(const nlohmann::ordered_json& messages,
                                             const nlohmann::ordered_json* tools) const {
    if (!messages.is_array() || messages.empty())
        return bad_request("'messages' must be a non-empty array", "messages");
    for (const auto& m : messages) {
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            return bad_request("every message needs a string 'role'", "messages");
    }
    chat::ChatRequest req;
    req.messages = messages;
    if (!defaults_.system.empty() &&
        std::none_of(messages.begin(), messages.end(), [](const auto& m) { return m["role"] == "system"; }))
        req.messages.insert(req.messages.begin(),
                            nlohmann::ordered_json{{"role", "system"}, {"content", defaults_.system}});
    if (tools != nullptr) req.tools = *tools;
    // Content parts (OpenAI's [{"type":"text","text":…}]) joined into plain text.
    for (auto& m : req.messages) {
        if (m.contains("content") && m["content"].is_array()) {
            std::string text;
            for (const auto& part : m["content"]) {
                if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
                    part["text"].is_string()) {
                    text += part["text"].get<std::string>();
                } else {
                    return bad_request("only text content parts are supported", "messages");
                }
            }
            m["content"] = text;
        } else if (m.contains("content") && m["content"].is_null()) {
            m["content"] = "";
        }
        // OpenAI sends a call's arguments as a JSON string; templates expect the object.
        if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
            for (auto& tc : m["tool_calls"]) {
                if (tc.is_object() && tc.contains("function") && tc["function"].is_object() &&
                    tc["function"].contains("arguments") && tc["function"]["arguments"].is_string()) {
                    auto parsed =
                        nlohmann::ordered_json::parse(tc["function"]["arguments"].get<std::string>(), nullptr, false);
                    if (!parsed.is_discarded()) tc["function"]["arguments"] = parsed;
                }
            }
        }
    }
    engine::attach_tools(tool_syntax_, req);
    auto p = engine::render_chat(*tok_, *template_, req);
    if (!p) return bad_request("chat template: " + p.error().message, "messages");
    return std::move(p->tokens);
}

}  // namespace tf::api
