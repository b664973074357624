#include "engine/embed.h"

#include <cmath>

namespace tf::engine {

Result<Pooling> parse_pooling(const std::string& name) {
    if (name == "mean") return Pooling::Mean;
    if (name == "cls" || name == "first") return Pooling::Cls;
    if (name == "last") return Pooling::Last;
    return Error{"unknown pooling '" + name + "' (mean, cls or last)"};
}

const char* pooling_name(Pooling p) {
    switch (p) {
        case Pooling::Mean: return "mean";
        case Pooling::Cls: return "cls";
        case Pooling::Last: return "last";
    }
    return "mean";
}

Pooling model_pooling(const model::Model& model) {
    const auto v = model.file->get_int(model.hp.arch + ".pooling_type");
    if (v && *v == 2) return Pooling::Cls;
    if (v && *v == 3) return Pooling::Last;
    return Pooling::Mean;
}

bool is_reranker(const model::Model& model) { return static_cast<bool>(model.cls_out); }

std::vector<int32_t> rerank_pair(const tok::Tokenizer& tokenizer, std::string_view query, std::string_view document) {
    const tok::Vocab& v = tokenizer.vocab();
    // A WordPiece vocabulary's "end" token is its separator; it has no end-of-sequence of its own.
    const bool wordpiece = v.type == tok::VocabType::Wpm;
    std::vector<int32_t> out;
    if (v.add_bos && v.bos != tok::kNoToken) out.push_back(v.bos);
    for (tok::TokenId id : tokenizer.encode(query, false)) out.push_back(id);
    if (wordpiece) {
        if (v.eos != tok::kNoToken) out.push_back(v.eos);
    } else {
        if (v.add_eos && v.eos != tok::kNoToken) out.push_back(v.eos);
        if (v.sep != tok::kNoToken) out.push_back(v.sep);
    }
    for (tok::TokenId id : tokenizer.encode(document, false)) out.push_back(id);
    if (!wordpiece && v.add_eos && v.eos != tok::kNoToken) out.push_back(v.eos);
    return out;
}

Result<float> rerank_score(model::Context& ctx, const std::vector<int32_t>& pair_tokens) {
    if (!is_reranker(ctx.model())) return Error{"this model has no classification head: it is not a reranker"};
    auto h = embed(ctx, pair_tokens, Pooling::Cls, false);
    if (!h) return h.error();
    auto scores = model::classification_head(ctx.model(), h->data());
    if (!scores) return scores.error();
    if (scores->empty()) return Error{"the classification head gives no score"};
    return scores->front();
}

Result<std::vector<float>> embed(model::Context& ctx, const std::vector<int32_t>& tokens, Pooling pooling, bool normalize) {
    if (tokens.empty()) return Error{"nothing to embed: the input has no tokens"};
    if (static_cast<int64_t>(tokens.size()) > ctx.n_ctx()) {
        return Error{"the input has " + std::to_string(tokens.size()) + " tokens; the context holds " + std::to_string(ctx.n_ctx())};
    }
    const int64_t E = ctx.model().hp.n_embd;
    std::vector<double> sum(static_cast<size_t>(E), 0.0);
    std::vector<float> pooled(static_cast<size_t>(E));
    ctx.seq_clear(0);
    // Fixed, so the result never depends on the caller; an encoder takes the whole input at once.
    const size_t kChunk = ctx.model().hp.causal ? 256 : tokens.size();
    for (size_t at = 0; at < tokens.size(); at += kChunk) {
        model::Batch b;
        const size_t end = std::min(tokens.size(), at + kChunk);
        for (size_t i = at; i < end; ++i) {
            const bool want = pooling == Pooling::Mean || (pooling == Pooling::Cls && i == 0) || (pooling == Pooling::Last && i + 1 == tokens.size());
            b.add(tokens[i], static_cast<int32_t>(i), 0, want);
        }
        auto h = ctx.decode(b, model::Output::Embeddings);
        if (!h) {
            ctx.seq_clear(0);
            return h.error();
        }
        const size_t rows = h->size() / static_cast<size_t>(E);
        for (size_t r = 0; r < rows; ++r) {
            for (int64_t e = 0; e < E; ++e) sum[static_cast<size_t>(e)] += (*h)[r * static_cast<size_t>(E) + static_cast<size_t>(e)];
        }
    }
    ctx.seq_clear(0);
    const double n = pooling == Pooling::Mean ? static_cast<double>(tokens.size()) : 1.0;
    double norm = 0;
    for (int64_t e = 0; e < E; ++e) {
        pooled[static_cast<size_t>(e)] = static_cast<float>(sum[static_cast<size_t>(e)] / n);
        norm += static_cast<double>(pooled[static_cast<size_t>(e)]) * pooled[static_cast<size_t>(e)];
    }
    if (normalize && norm > 0) {
        const double inv = 1.0 / std::sqrt(norm);
        for (float& v : pooled) v = static_cast<float>(v * inv);
    }
    return pooled;
}

}  // namespace tf::engine
