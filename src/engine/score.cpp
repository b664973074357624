#include "engine/score.h"

#include <algorithm>
#include <cmath>

namespace tf::engine {

namespace {

double log_softmax_at(const float* logits, int64_t n, int32_t id) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; ++i) max = std::max(max, logits[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
    return static_cast<double>(logits[id] - max) - std::log(sum);
}

}  // namespace

Result<std::vector<double>> score_options(model::Context& ctx, const std::vector<int32_t>& prompt,
                                          const std::vector<std::vector<int32_t>>& options) {
    if (ctx.n_seq_max() < 2) return Error{"scoring needs a context with two sequences"};
    if (prompt.empty()) return Error{"the prompt is empty"};
    const int64_t V = ctx.model().hp.n_vocab;
    ctx.seq_clear(0);
    ctx.seq_clear(1);
    auto last = ctx.decode(prompt, false);
    if (!last) return last.error();
    std::vector<double> scores;
    for (const auto& opt : options) {
        if (opt.empty()) return Error{"an option has no tokens"};
        double lp = log_softmax_at(last->data(), V, opt[0]);
        if (opt.size() > 1) {
            ctx.seq_copy(0, 1);
            model::Batch b;
            for (size_t i = 0; i + 1 < opt.size(); ++i) b.add(opt[i], static_cast<int32_t>(prompt.size() + i), 1, true);
            auto rows = ctx.decode(b);
            if (!rows) return rows.error();
            for (size_t i = 1; i < opt.size(); ++i) lp += log_softmax_at(rows->data() + (i - 1) * static_cast<size_t>(V), V, opt[i]);
            ctx.seq_clear(1);
        }
        scores.push_back(lp);
    }
    return scores;
}

}  // namespace tf::engine
