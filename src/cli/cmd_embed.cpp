// terraferma embed -m MODEL FILE...   and   terraferma rerank -m MODEL -q QUERY FILE...
// embed: one JSON line per document (path, tokens, the unit-length pooled embedding), documents
// read as the document commands read them (PDF, DOCX, HTML, mail, … by content). An input longer
// than the model's context is an error for that file, never silently cut.
// rerank: documents ordered by a cross-encoder's relevance to the query (raw scores, highest
// first), one JSON line each or a table on a terminal.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/document_flags.h"
#include "cli/model_argument.h"
#include "engine/embed.h"
#include "pipeline/document.h"
#include "pipeline/run.h"
#include "util/thread_pool.h"

namespace tf::cli {

namespace {

struct Loaded {
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tok::Tokenizer> tokenizer;
};

Result<Loaded> load(const std::string& path) {
    auto m = model::Model::load(path);
    if (!m) return m.error();
    auto t = tok::Tokenizer::from_file(*(*m)->file);
    if (!t) return Error{path + ": " + t.error().message};
    return Loaded{std::move(m.value()), std::make_unique<tok::Tokenizer>(std::move(t.value()))};
}

// The longest input the model takes at once: its learned positions (encoders) or its training context.
int max_tokens(const model::Model& m) {
    if (m.pos_embd) return static_cast<int>(m.pos_embd.rows());
    return m.hp.n_ctx_train > 0 ? static_cast<int>(std::min<uint32_t>(m.hp.n_ctx_train, 32768)) : 4096;
}

}  // namespace

void add_embed_commands(CLI::App& root, Commands& commands) {
    struct EmbedArgs {
        std::string model, pooling;
        std::vector<std::string> inputs;
        int threads = 0;
        bool raw = false;
    };
    auto e = std::make_shared<EmbedArgs>();
    CLI::App* embed =
        root.add_subcommand("embed", "Embed documents: one JSON line per file with its pooled, unit-length vector");
    add_model_option(
        embed, e->model,
        "Embedding model (BERT-family such as bge-small, or a chat model's hidden states): file or store name");
    embed->add_option("inputs", e->inputs, "Documents: files, folders (walked) or - for standard input")->required();
    embed->add_option("--pooling", e->pooling, "mean, cls or last (default: the model's metadata, else mean)");
    embed->add_flag("--no-normalize", e->raw, "Print the pooled vector as is, not scaled to unit length");
    embed->add_option("-t,--threads", e->threads, "Threads (default: all cores)");
    add_document_options(embed);
    commands.push_back(
        {embed, [e]() {
             auto l = load(e->model);
             if (!l) {
                 print_error("embed", l.error().message);
                 return kExitFailure;
             }
             engine::Pooling pooling = engine::model_pooling(*l->model);
             if (!e->pooling.empty()) {
                 auto p = engine::parse_pooling(e->pooling);
                 if (!p) {
                     print_error("embed", p.error().message);
                     return kExitUsage;
                 }
                 pooling = *p;
             }
             auto files = pipeline::expand_inputs(e->inputs);
             if (!files) {
                 print_error("embed", files.error().message);
                 return kExitFailure;
             }
             *files = pipeline::expand_documents(*files);  // e-mails' attachments after them
             const int threads = e->threads > 0 ? e->threads : ThreadPool::default_threads();
             // Documents are packed several to a forward pass (each vector the same as alone); the
             // cache holds a pass's worth of them.
             const int limit = max_tokens(*l->model);
             model::Context ctx(*l->model, model::ContextOptions{std::max(limit, 8192), 16, threads});
             int code = kExitOk;
             struct Item {
                 std::string path, error;
                 std::vector<int32_t> tokens;
             };
             std::vector<Item> items;
             auto flush = [&]() {
                 std::vector<std::vector<int32_t>> inputs;
                 for (const Item& it : items) {
                     if (it.error.empty()) inputs.push_back(it.tokens);
                 }
                 auto vectors = engine::embed_many(ctx, inputs, pooling, !e->raw);
                 size_t k = 0;
                 for (Item& it : items) {
                     if (it.error.empty() && !vectors) it.error = vectors.error().message;
                     if (!it.error.empty()) {
                         code = kExitFailure;
                         print_error("embed", it.error);
                         std::cout << nlohmann::ordered_json{{"path", it.path}, {"error", it.error}}.dump() << "\n";
                         continue;
                     }
                     std::cout << nlohmann::ordered_json{{"path", it.path},
                                                         {"tokens", it.tokens.size()},
                                                         {"pooling", engine::pooling_name(pooling)},
                                                         {"embedding", (*vectors)[k++]}}
                                      .dump()
                               << "\n";
                 }
                 items.clear();
             };
             for (const std::string& path : *files) {
                 Item it{path, "", {}};
                 auto d = pipeline::load_document(path);
                 if (!d) {
                     it.error = d.error().message;
                 } else {
                     it.tokens = l->tokenizer->encode(d->text, true, false);
                     if (it.tokens.empty()) it.error = path + ": no text to embed";
                     if (static_cast<int>(it.tokens.size()) > limit) {
                         it.error = path + ": " + std::to_string(it.tokens.size()) +
                                    " tokens; the model takes at most " + std::to_string(limit) +
                                    " at once (split the document)";
                     }
                 }
                 items.push_back(std::move(it));
                 if (items.size() == 64) flush();
             }
             flush();
             return code;
         }});

    struct RerankArgs {
        std::string model, query;
        std::vector<std::string> inputs;
        int threads = 0, top = 0;
        bool json = false;
    };
    auto r = std::make_shared<RerankArgs>();
    CLI::App* rerank =
        root.add_subcommand("rerank", "Order documents by a reranker's relevance to a query (highest first)");
    add_model_option(rerank, r->model,
                     "Reranking model (a BERT-family cross-encoder such as bge-reranker): file or store name");
    rerank->add_option("-q,--query", r->query, "The query")->required();
    rerank->add_option("inputs", r->inputs, "Documents: files, folders (walked) or - for standard input")->required();
    rerank->add_option("--top", r->top, "Print only the best N");
    rerank->add_flag("--json", r->json, "One JSON line per document: rank, path, score (the default off a terminal)");
    rerank->add_option("-t,--threads", r->threads, "Threads (default: all cores)");
    add_document_options(rerank);
    commands.push_back({rerank, [r]() {
                            auto l = load(r->model);
                            if (!l) {
                                print_error("rerank", l.error().message);
                                return kExitFailure;
                            }
                            if (!engine::is_reranker(*l->model)) {
                                print_error("rerank", r->model + " is not a reranker (it has no classification head)");
                                return kExitFailure;
                            }
                            auto files = pipeline::expand_inputs(r->inputs);
                            if (!files) {
                                print_error("rerank", files.error().message);
                                return kExitFailure;
                            }
                            *files = pipeline::expand_documents(*files);  // e-mails' attachments after them
                            const int threads = r->threads > 0 ? r->threads : ThreadPool::default_threads();
                            model::Context ctx(*l->model, model::ContextOptions{max_tokens(*l->model), 1, threads});
                            std::vector<std::pair<float, std::string>> scored;
                            int code = kExitOk;
                            for (const std::string& path : *files) {
                                auto d = pipeline::load_document(path);
                                if (!d) {
                                    code = kExitFailure;
                                    print_error("rerank", d.error().message);
                                    continue;
                                }
                                const auto tokens = engine::rerank_pair(*l->tokenizer, r->query, d->text);
                                if (static_cast<int>(tokens.size()) > ctx.n_ctx()) {
                                    code = kExitFailure;
                                    print_error("rerank",
                                                path + ": query and document make " + std::to_string(tokens.size()) +
                                                    " tokens; the model takes at most " + std::to_string(ctx.n_ctx()));
                                    continue;
                                }
                                auto s = engine::rerank_score(ctx, tokens);
                                if (!s) {
                                    code = kExitFailure;
                                    print_error("rerank", path + ": " + s.error().message);
                                    continue;
                                }
                                scored.emplace_back(*s, path);
                            }
                            std::stable_sort(scored.begin(), scored.end(),
                                             [](const auto& a, const auto& b) { return a.first > b.first; });
                            if (r->top > 0 && scored.size() > static_cast<size_t>(r->top))
                                scored.resize(static_cast<size_t>(r->top));
                            const bool json = r->json || !::isatty(STDOUT_FILENO);
                            for (size_t i = 0; i < scored.size(); ++i) {
                                if (json) {
                                    std::cout << nlohmann::ordered_json{{"rank", i + 1},
                                                                        {"path", scored[i].second},
                                                                        {"score", scored[i].first}}
                                                     .dump()
                                              << "\n";
                                } else {
                                    std::printf("%3zu  %10.4f  %s\n", i + 1, scored[i].first, scored[i].second.c_str());
                                }
                            }
                            return code;
                        }});
}

}  // namespace tf::cli
