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
        case Pooling::Mean:
            return "mean";
        case Pooling::Cls:
            return "cls";
        case Pooling::Last:
            return "last";
    }
    return "mean";
}

Pooling model_pooling(const model::Model& model) {
    const auto v = model.file->get_int(model.hp.arch + ".pooling_type");
    if (v && *v == 2) return Pooling::Cls;
    if (v && *v == 3) return Pooling::Last;
    return Pooling::Mean;
}

bool is_reranker(const model::Model& model) {
    return static_cast<bool>(model.cls_out);
}

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

namespace {

bool wanted(Pooling pooling, size_t i, size_t n) {
    return pooling == Pooling::Mean || (pooling == Pooling::Cls && i == 0) || (pooling == Pooling::Last && i + 1 == n);
}

// The pooled vector from the sums of the wanted rows (in double, in token order), divided by the
// token count for mean pooling, optionally scaled to unit length — one arithmetic for the single
// and the batched path, so both give the same bits.
std::vector<float> finish_pooling(const std::vector<double>& sum, size_t n_tokens, Pooling pooling, bool normalize) {
    const double n = pooling == Pooling::Mean ? static_cast<double>(n_tokens) : 1.0;
    std::vector<float> pooled(sum.size());
    double norm = 0;
    for (size_t e = 0; e < sum.size(); ++e) {
        pooled[e] = static_cast<float>(sum[e] / n);
        norm += static_cast<double>(pooled[e]) * pooled[e];
    }
    if (normalize && norm > 0) {
        const double inv = 1.0 / std::sqrt(norm);
        for (float& v : pooled) v = static_cast<float>(v * inv);
    }
    return pooled;
}

}  // namespace

Result<std::vector<float>> embed(model::Context& ctx, const std::vector<int32_t>& tokens, Pooling pooling,
                                 bool normalize) {
    if (tokens.empty()) return Error{"nothing to embed: the input has no tokens"};
    if (static_cast<int64_t>(tokens.size()) > ctx.n_ctx()) {
        return Error{"the input has " + std::to_string(tokens.size()) + " tokens; the context holds " +
                     std::to_string(ctx.n_ctx())};
    }
    const int64_t E = ctx.model().hp.n_embd;
    std::vector<double> sum(static_cast<size_t>(E), 0.0);
    ctx.seq_clear(0);
    // Fixed, so the result never depends on the caller; an encoder takes the whole input at once.
    const size_t kChunk = ctx.model().hp.causal ? 256 : tokens.size();
    for (size_t at = 0; at < tokens.size(); at += kChunk) {
        model::Batch b;
        const size_t end = std::min(tokens.size(), at + kChunk);
        for (size_t i = at; i < end; ++i)
            b.add(tokens[i], static_cast<int32_t>(i), 0, wanted(pooling, i, tokens.size()));
        auto h = ctx.decode(b, model::Output::Embeddings);
        if (!h) {
            ctx.seq_clear(0);
            return h.error();
        }
        const size_t rows = h->size() / static_cast<size_t>(E);
        for (size_t r = 0; r < rows; ++r) {
            for (int64_t e = 0; e < E; ++e)
                sum[static_cast<size_t>(e)] += (*h)[r * static_cast<size_t>(E) + static_cast<size_t>(e)];
        }
    }
    ctx.seq_clear(0);
    return finish_pooling(sum, tokens.size(), pooling, normalize);
}

Result<std::vector<std::vector<float>>> embed_many(model::Context& ctx, const std::vector<std::vector<int32_t>>& inputs,
                                                   Pooling pooling, bool normalize) {
    const int64_t E = ctx.model().hp.n_embd;
    std::vector<std::vector<float>> out(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].empty()) return Error{"input " + std::to_string(i) + " has no tokens"};
        if (static_cast<int64_t>(inputs[i].size()) > ctx.n_ctx()) {
            return Error{"input " + std::to_string(i) + " has " + std::to_string(inputs[i].size()) +
                         " tokens; the context holds " + std::to_string(ctx.n_ctx())};
        }
    }
    for (int s = 0; s < ctx.n_seq_max(); ++s) ctx.seq_clear(s);
    size_t next = 0;
    while (next < inputs.size()) {
        // As many whole inputs as there are sequences and cells; each is pooled from its own rows,
        // and a sequence's rows do not depend on its company, so the result is the same as alone.
        // The cache hands out whole pages per sequence.
        model::Batch b;
        std::vector<size_t> members;
        const auto pages = [](size_t n) {
            return (n + model::KvCache::kPage - 1) / model::KvCache::kPage * model::KvCache::kPage;
        };
        size_t cells = 0;
        while (next < inputs.size() && static_cast<int>(members.size()) < ctx.n_seq_max() &&
               (members.empty() || cells + pages(inputs[next].size()) <= static_cast<size_t>(ctx.kv().free_cells()))) {
            const auto& t = inputs[next];
            const int seq = static_cast<int>(members.size());
            for (size_t i = 0; i < t.size(); ++i)
                b.add(t[i], static_cast<int32_t>(i), seq, wanted(pooling, i, t.size()));
            cells += pages(t.size());
            members.push_back(next++);
        }
        if (members.size() == 1 && ctx.model().hp.causal) {
            // A long input alone: the chunked single path (same result, bounded scratch).
            auto v = embed(ctx, inputs[members[0]], pooling, normalize);
            if (!v) return v.error();
            out[members[0]] = std::move(*v);
            continue;
        }
        auto h = ctx.decode(b, model::Output::Embeddings);
        for (size_t k = 0; k < members.size(); ++k) ctx.seq_clear(static_cast<int>(k));
        if (!h) return h.error();
        size_t row = 0;
        for (size_t k = 0; k < members.size(); ++k) {
            const auto& t = inputs[members[k]];
            std::vector<double> sum(static_cast<size_t>(E), 0.0);
            for (size_t i = 0; i < t.size(); ++i) {
                if (!wanted(pooling, i, t.size())) continue;
                for (int64_t e = 0; e < E; ++e)
                    sum[static_cast<size_t>(e)] += (*h)[row * static_cast<size_t>(E) + static_cast<size_t>(e)];
                ++row;
            }
            out[members[k]] = finish_pooling(sum, t.size(), pooling, normalize);
        }
    }
    return out;
}

}  // namespace tf::engine
