#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "engine/decoding.h"

namespace tf::engine {

bool Job::next(JobEvent& out, int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !events_.empty(); })) return false;
    out = std::move(events_.front());
    events_.pop_front();
    return true;
}

void Job::push(JobEvent e) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(std::move(e));
    }
    cv_.notify_all();
}

struct Scheduler::Slot {
    int id = 0;
    std::vector<int32_t> cached;  // tokens in this slot's KV sequence
    // The running request, if any.
    std::shared_ptr<Job> job;
    GenerationRequest req;
    size_t prompt_done = 0;  // prompt tokens evaluated (or reused)
    // Tokens waiting to be evaluated: the sampled one, then any jump-forward appended.
    std::vector<int32_t> pending;
    std::unique_ptr<Decoding> dec;                     // the request's sampling, text and ends
    std::shared_ptr<sampling::Constraint> constraint;  // from req.contract (its next masks are prefetched)
    std::string answer;                                // everything sent, kept for the contract's check
    Timings timings;
    std::chrono::steady_clock::time_point t_start, t_first, t_last;
    bool active() const { return job != nullptr; }
};

Scheduler::Scheduler(const model::Model& model, const tok::Tokenizer& tokenizer, const SchedulerOptions& o)
    : model_(model),
      tok_(tokenizer),
      o_(o),
      ctx_(model,
           model::ContextOptions{o.n_slots * o.n_ctx_per_slot, o.n_slots + std::max(0, o.prefix_cache), o.n_threads,
                                 model::AttentionNumerics::Float, o.k_type, o.v_type, o.swa_extra}) {
    for (int i = 0; i < o.n_slots; ++i) {
        slots_.push_back(std::make_unique<Slot>());
        slots_.back()->id = i;
    }
    for (int i = 0; i < o.prefix_cache; ++i) cache_.push_back(CacheEntry{o.n_slots + i, {}, 0});
    stats_.kv_bytes = stats_.kv_free_bytes = static_cast<int64_t>(ctx_.kv().bytes());
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    stop();
}

void Scheduler::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

Result<std::shared_ptr<Job>> Scheduler::submit(GenerationRequest r) {
    if (r.prompt.empty()) return Error{"the prompt is empty"};
    if (static_cast<int>(r.prompt.size()) >= o_.n_ctx_per_slot) {
        return Error{"the prompt has " + std::to_string(r.prompt.size()) + " tokens; a request may use " +
                     std::to_string(o_.n_ctx_per_slot) + " (the server's context per slot)"};
    }
    if (Status st = r.options.sampling.validate(model_.hp.n_vocab); !st) return st.error();
    auto job = std::make_shared<Job>();
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return Error{"the server is shutting down", ErrorKind::Unavailable};
        int busy = 0;
        for (const auto& s : slots_) busy += s->active();
        if (static_cast<int>(queue_.size()) >= o_.max_queue && busy == o_.n_slots)
            return Error{"the server is busy: too many requests are waiting; retry shortly", ErrorKind::Overloaded};
        queue_.emplace_back(std::move(r), job);
        ++stats_.requests;
    }
    cv_.notify_all();
    return job;
}

SchedulerStats Scheduler::stats() {
    std::lock_guard<std::mutex> lock(mu_);
    SchedulerStats s = stats_;
    s.queued = static_cast<int>(queue_.size());
    s.active = 0;
    for (const auto& sl : slots_) s.active += sl->active();
    return s;
}

// Keeps a slot's tokens in the prefix cache before they are overwritten (mu_ held). An entry
// that already holds them, or more, is only refreshed; entries holding a prefix of them are
// superseded; otherwise a free entry or the least recently used one (never `keep`) takes them.
void Scheduler::stash(const Slot& s, const CacheEntry* keep) {
    constexpr size_t kMinTokens = 16;  // shorter prompts are cheaper to recompute than to track
    if (cache_.empty() || s.cached.size() < kMinTokens) return;
    for (CacheEntry& e : cache_) {
        if (e.tokens.size() >= s.cached.size() && std::equal(s.cached.begin(), s.cached.end(), e.tokens.begin())) {
            e.used = ++clock_;
            return;
        }
    }
    for (CacheEntry& e : cache_) {
        // (Not when the slot's sliding-window layers have let go of what the entry still offers.)
        if (&e != keep && !e.tokens.empty() && std::equal(e.tokens.begin(), e.tokens.end(), s.cached.begin()) &&
            ctx_.seq_reusable(s.id, static_cast<int>(e.tokens.size())) == static_cast<int>(e.tokens.size())) {
            ctx_.seq_clear(e.seq);
            e.tokens.clear();
        }
    }
    CacheEntry* target = nullptr;
    for (CacheEntry& e : cache_) {
        if (e.tokens.empty()) {
            target = &e;
            break;
        }
    }
    if (target == nullptr) {
        target = least_recent(keep);
        if (target == nullptr) return;
        evict(*target);
    }
    ctx_.seq_copy(s.id, target->seq);
    target->tokens = s.cached;
    target->used = ++clock_;
    count_entries();
}

// The least recently used entry holding tokens, other than `keep`; null when there is none.
Scheduler::CacheEntry* Scheduler::least_recent(const CacheEntry* keep) {
    CacheEntry* lru = nullptr;
    for (CacheEntry& e : cache_) {
        if (&e != keep && !e.tokens.empty() && (lru == nullptr || e.used < lru->used)) lru = &e;
    }
    return lru;
}

void Scheduler::count_entries() {
    stats_.cache_entries = 0;
    for (const CacheEntry& e : cache_) stats_.cache_entries += !e.tokens.empty();
}

void Scheduler::evict(CacheEntry& e) {
    ctx_.seq_clear(e.seq);
    e.tokens.clear();
    ++stats_.cache_evictions;
}

// Frees KV pages held only by cache entries, least recently used first, until the batch fits:
// the slots alone always fit, so a running request never fails for the cache's sake.
void Scheduler::make_room(const model::Batch& batch) {
    const int page = model::KvCache::kPage;
    std::vector<bool> seen(slots_.size(), false);
    int need = static_cast<int>(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        const auto q = static_cast<size_t>(batch.seq[i]);
        if (!seen[q]) need += page, seen[q] = true;  // a partly filled (perhaps shared) last page
    }
    if (ctx_.kv().free_cells() >= need) return;
    std::lock_guard<std::mutex> lock(mu_);
    while (ctx_.kv().free_cells() < need) {
        CacheEntry* lru = least_recent(nullptr);
        if (lru == nullptr) break;
        evict(*lru);
    }
    count_entries();
}

void Scheduler::finish(Slot& s, StopReason reason, const std::string& error) {
    JobEvent e;
    if (error.empty()) e.text = s.dec->finish(reason);
    e.done = true;
    e.reason = reason;
    e.error = error;
    if (s.req.contract && error.empty() && reason != StopReason::Cancelled) {
        s.answer += e.text;
        e.violations = s.req.contract->check(s.answer);
        if (should_resample(s.req.options, e.violations, reason, s.req.attempt)) {
            // Drawn again from the queue's front with a derived seed; the prompt is still in this
            // slot's cache, so only the answer is computed again.
            JobEvent restart;
            restart.restart = true;
            s.job->push(std::move(restart));
            GenerationRequest again = s.req;
            ++again.attempt;
            again.options.sampling.seed = resample_seed(s.req.seed0, again.attempt);
            {
                std::lock_guard<std::mutex> lock(mu_);
                stats_.generated_tokens += s.dec->generated().size();
                queue_.emplace_front(std::move(again), s.job);
                s.job.reset();
            }
            s.answer.clear();
            s.constraint.reset();
            s.dec.reset();
            s.pending.clear();
            return;
        }
    }
    s.answer.clear();
    s.constraint.reset();
    s.timings.n_generated = static_cast<int>(s.dec->generated().size());
    s.timings.n_forced = s.dec->n_forced();
    s.timings.sample_ms = s.dec->sample_ms();
    s.timings.generate_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s.t_first).count();
    e.timings = s.timings;
    s.job->push(std::move(e));
    {
        std::lock_guard<std::mutex> lock(mu_);  // submit() and stats() read which slots are busy
        stats_.generated_tokens += s.dec->generated().size();
        s.job.reset();
    }
    s.dec.reset();
    s.pending.clear();
}

// Gives waiting requests to free slots, preferring the slot whose cached tokens share the
// longest prefix with the prompt.
void Scheduler::assign() {
    std::lock_guard<std::mutex> lock(mu_);
    while (!queue_.empty()) {
        auto& [req, job] = queue_.front();
        if (job->cancelled()) {
            JobEvent e;
            e.done = true;
            e.reason = StopReason::Cancelled;
            job->push(std::move(e));
            queue_.pop_front();
            continue;
        }
        // The prompt tokens a sequence can give: the shared prefix, short of the last prompt
        // token (evaluated again for its logits), and none when sliding-window layers have
        // already let go of what the first new token attends to.
        auto common = [&](int seq, const std::vector<int32_t>& cached) {
            size_t c = 0;
            while (c < cached.size() && c < req.prompt.size() && cached[c] == req.prompt[c]) ++c;
            if (c == req.prompt.size() && c > 0) --c;
            return static_cast<size_t>(ctx_.seq_reusable(seq, static_cast<int>(c)));
        };
        Slot* best = nullptr;
        size_t best_common = 0;
        for (auto& s : slots_) {
            if (s->active()) continue;
            const size_t c = common(s->id, s->cached);
            if (best == nullptr || c > best_common) best = s.get(), best_common = c;
        }
        if (best == nullptr) return;
        Slot& s = *best;
        CacheEntry* hit = nullptr;
        size_t hit_common = best_common;
        for (CacheEntry& e : cache_) {
            if (const size_t c = common(e.seq, e.tokens); c > hit_common) hit = &e, hit_common = c;
        }
        // What the slot holds beyond the shared part would be lost: keep it in the cache.
        if (s.cached.size() > best_common) stash(s, hit);
        if (hit != nullptr) {
            ctx_.seq_copy(hit->seq, s.id);
            s.cached = hit->tokens;
            hit->used = ++clock_;
            best_common = hit_common;
            ++stats_.cache_hits;
        }
        best_common = static_cast<size_t>(ctx_.seq_truncate(s.id, static_cast<int>(best_common)));
        s.cached.resize(best_common);
        s.req = std::move(req);
        if (s.req.attempt == 0) s.req.seed0 = s.req.options.sampling.seed;
        s.job = job;
        s.prompt_done = best_common;
        s.pending.clear();
        s.timings = Timings{};
        s.timings.n_reused = static_cast<int>(best_common);
        s.timings.n_prompt = static_cast<int>(s.req.prompt.size() - best_common);
        stats_.prompt_tokens += s.req.prompt.size() - best_common;
        stats_.reused_tokens += best_common;
        s.constraint = s.req.contract ? s.req.contract->constraint() : nullptr;
        s.dec = std::make_unique<Decoding>(tok_, s.req.options, s.constraint, model_.hp.n_vocab, s.req.prompt);
        s.t_start = std::chrono::steady_clock::now();
        queue_.pop_front();
    }
}

void Scheduler::step() {
    model::Batch batch;
    std::vector<Slot*> rows;  // slot of each logits row
    std::vector<size_t> prompt_added(slots_.size(), 0);
    // Decoding slots first: one token each.
    for (auto& sp : slots_) {
        Slot& s = *sp;
        if (!s.active()) continue;
        if (s.job->cancelled()) {
            finish(s, StopReason::Cancelled);
            continue;
        }
        for (size_t k = 0; k < s.pending.size(); ++k) {
            batch.add(s.pending[k], static_cast<int32_t>(s.cached.size() + k), s.id, k + 1 == s.pending.size());
        }
        if (!s.pending.empty()) rows.push_back(&s);
    }
    // Then prompt chunks within the remaining budget.
    int budget = std::max(1, o_.max_batch - static_cast<int>(batch.size()));
    for (auto& sp : slots_) {
        Slot& s = *sp;
        if (!s.active() || !s.pending.empty() || budget <= 0) continue;
        const size_t n = std::min(s.req.prompt.size() - s.prompt_done, static_cast<size_t>(budget));
        for (size_t k = 0; k < n; ++k) {
            const size_t i = s.prompt_done + k;
            const bool last = i + 1 == s.req.prompt.size();
            batch.add(s.req.prompt[i], static_cast<int32_t>(i), s.id, last);
            if (last) rows.push_back(&s);
        }
        budget -= static_cast<int>(n);
        prompt_added[static_cast<size_t>(s.id)] = n;
    }
    if (batch.size() == 0) return;
    make_room(batch);
    std::vector<sampling::Constraint*> next_masks;
    for (Slot* s : rows) {
        if (s->constraint) next_masks.push_back(s->constraint.get());
    }
    prefetch_.start(std::move(next_masks));
    auto logits = ctx_.decode(batch);
    prefetch_.wait();
    if (!logits) {
        for (auto& sp : slots_) {
            if (sp->active()) finish(*sp, StopReason::Cancelled, logits.error().message);
        }
        return;
    }
    // Account what was evaluated: the cache now holds the batch's tokens.
    for (size_t i = 0; i < batch.size(); ++i)
        slots_[static_cast<size_t>(batch.seq[i])]->cached.push_back(batch.token[i]);
    for (auto& sp : slots_) {
        sp->prompt_done += prompt_added[static_cast<size_t>(sp->id)];
        if (prompt_added[static_cast<size_t>(sp->id)] == 0) sp->pending.clear();  // a decoding slot's tokens are in
    }
    const int64_t V = model_.hp.n_vocab;
    // Each row's token depends only on its own slot (sampler, seed, constraint; the masks a
    // grammar's constraints share sit in a thread-safe cache), so the rows are sampled on the
    // decode threads, idle now: a whole-vocabulary sort (OpenAI's defaults: no top-k) costs
    // ~2 ms a row. Everything else stays in row order.
    std::vector<std::optional<Result<int32_t>>> chosen(rows.size());
    ctx_.pool().run(static_cast<int64_t>(rows.size()), [&](int64_t r, int) {
        Slot& s = *rows[static_cast<size_t>(r)];
        if (!s.active() || s.dec->empty_answer()) return;
        try {
            chosen[static_cast<size_t>(r)] =
                s.dec->choose(logits->data() + r * V, o_.n_ctx_per_slot - static_cast<int>(s.cached.size()));
        } catch (const std::exception& e) {
            chosen[static_cast<size_t>(r)] = Result<int32_t>(Error{std::string("sampling failed: ") + e.what()});
        }
    });
    for (size_t r = 0; r < rows.size(); ++r) {
        Slot& s = *rows[r];
        if (s.active() && s.dec->empty_answer()) {
            finish(s, StopReason::Length);
            continue;
        }
        if (!s.active() || !chosen[r]) continue;
        const auto now = std::chrono::steady_clock::now();
        if (s.dec->generated().empty()) {
            s.t_first = now;
            s.timings.prompt_ms = std::chrono::duration<double, std::milli>(s.t_first - s.t_start).count();
            std::lock_guard<std::mutex> lock(mu_);
            stats_.time_to_first_token.observe(std::chrono::duration<double>(now - s.job->submitted_).count());
        } else {
            std::lock_guard<std::mutex> lock(mu_);
            stats_.inter_token.observe(std::chrono::duration<double>(now - s.t_last).count());
        }
        s.t_last = now;
        const GenerateOptions& o = s.req.options;
        const Result<int32_t>& tok = *chosen[r];
        if (!tok) {
            finish(s, StopReason::Cancelled, tok.error().message);
            continue;
        }
        const int32_t id = *tok;
        const Decoding::Step st = s.dec->advance(id, static_cast<int>(s.cached.size()), o_.n_ctx_per_slot);
        JobEvent e;
        e.text = st.text;
        if (o.logprobs >= 0 && st.end != StopReason::Eos)
            e.logprobs.push_back(
                sampling::token_logprob(logits->data() + static_cast<int64_t>(r) * V, V, id, o.logprobs));
        if (s.req.contract) s.answer += e.text;
        if (!e.text.empty() || !e.logprobs.empty()) s.job->push(std::move(e));
        if (st.end)
            finish(s, *st.end);
        else
            s.pending = st.evaluate;
    }
}

void Scheduler::loop() {
    const double bytes_per_cell = static_cast<double>(ctx_.kv().bytes()) / std::max(1, ctx_.kv().capacity());
    while (true) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] {
                if (stopping_ || !queue_.empty()) return true;
                for (const auto& s : slots_) {
                    if (s->active()) return true;
                }
                return false;
            });
            if (stopping_) break;
        }
        assign();
        step();
        std::lock_guard<std::mutex> lock(mu_);
        stats_.kv_free_bytes = static_cast<int64_t>(bytes_per_cell * ctx_.kv().free_cells());
    }
    // Shutting down: every request still here ends now.
    for (auto& s : slots_) {
        if (s->active()) finish(*s, StopReason::Cancelled, "the server is shutting down");
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [req, job] : queue_) {
        JobEvent e;
        e.done = true;
        e.reason = StopReason::Cancelled;
        e.error = "the server is shutting down";
        job->push(std::move(e));
    }
    queue_.clear();
}

}  // namespace tf::engine
