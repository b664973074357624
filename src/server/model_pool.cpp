#include "server/model_pool.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

namespace tf::server {

ModelSpec parse_model_spec(const std::string& arg) {
    const size_t eq = arg.find('=');
    // NAME=PATH, unless the '=' belongs to a path that exists as written.
    if (eq != std::string::npos && eq > 0 && !std::filesystem::exists(arg))
        return {arg.substr(0, eq), arg.substr(eq + 1)};
    return {std::filesystem::path(arg).stem().string(), arg};
}

Result<int> parse_duration_seconds(const std::string& t) {
    size_t i = 0;
    const bool negative = !t.empty() && t[0] == '-';
    if (negative) ++i;
    double total = 0;
    bool any = false;
    while (i < t.size()) {
        if (!std::isdigit(static_cast<unsigned char>(t[i])) && t[i] != '.') break;
        size_t j = i;
        while (j < t.size() && (std::isdigit(static_cast<unsigned char>(t[j])) || t[j] == '.')) ++j;
        char* end = nullptr;
        const std::string number = t.substr(i, j - i);
        const double v = std::strtod(number.c_str(), &end);
        if (end != number.c_str() + number.size()) break;
        std::string unit;
        while (j < t.size() && std::isalpha(static_cast<unsigned char>(t[j]))) unit += t[j++];
        const double scale = unit == "h"                     ? 3600
                             : unit == "m"                   ? 60
                             : (unit == "s" || unit.empty()) ? 1
                             : unit == "ms"                  ? 0.001
                                                             : -1;
        if (scale < 0) break;
        total += v * scale;
        any = true;
        i = j;
    }
    if (!any || i != t.size())
        return Error{"'" + t + "' is not a duration (seconds, or e.g. 5m, 1h30m, 10s; negative: forever)"};
    if (negative) return -1;
    return static_cast<int>(std::min(total, 1e9));
}

ModelPool::ModelPool(std::vector<ModelSpec> specs, const PoolOptions& options, ModelCatalog catalog)
    : o_(options), catalog_(std::move(catalog)) {
    for (const ModelSpec& s : specs) {
        Entry e;
        e.spec = s;
        e.keep_alive_s = o_.keep_alive_s;
        entries_.push_back(std::move(e));
    }
    reaper_ = std::thread([this] { reap(); });
}

ModelPool::~ModelPool() {
    stop();
}

void ModelPool::stop() {
    std::vector<std::shared_ptr<Service>> services;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_ && !reaper_.joinable()) return;
        stopping_ = true;
        for (Entry& e : entries_) {
            if (e.service) services.push_back(e.service);
        }
    }
    cv_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    for (auto& s : services) s->scheduler().stop();
}

long ModelPool::index_locked(const std::string& name) {
    for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].spec.name == name) return static_cast<long>(i);
    }
    // Ollama clients add a tag (":latest") to bare names.
    if (const size_t colon = name.rfind(':'); colon != std::string::npos && name.substr(colon) == ":latest") {
        for (size_t i = 0; i < entries_.size(); ++i) {
            if (entries_[i].spec.name == name.substr(0, colon)) return static_cast<long>(i);
        }
    }
    if (catalog_.resolve) {
        std::optional<ModelSpec> spec = catalog_.resolve(name);
        if (!spec) return -1;
        for (size_t i = 0; i < entries_.size(); ++i) {
            if (entries_[i].spec.name == spec->name) {
                entries_[i].spec = *spec;  // the name may point at new bytes since (pulled again)
                return static_cast<long>(i);
            }
        }
        Entry e;
        e.spec = std::move(*spec);
        e.keep_alive_s = o_.keep_alive_s;
        entries_.push_back(std::move(e));
        return static_cast<long>(entries_.size() - 1);
    }
    // One model served: clients send whatever name they were written for.
    return entries_.size() == 1 ? 0 : -1;
}

std::optional<ModelSpec> ModelPool::find(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    const long i = index_locked(name);
    if (i < 0) return std::nullopt;
    return entries_[static_cast<size_t>(i)].spec;
}

std::vector<ModelSpec> ModelPool::specs() {
    std::vector<ModelSpec> out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const Entry& e : entries_) out.push_back(e.spec);
    }
    if (catalog_.list) {
        for (ModelSpec& s : catalog_.list()) {
            bool dup = false;
            for (const ModelSpec& o : out) dup = dup || o.name == s.name;
            if (!dup) out.push_back(std::move(s));
        }
    }
    return out;
}

void ModelPool::forget(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < entries_.size(); ++i) {
        Entry& e = entries_[i];
        if (e.spec.name != name) continue;
        if (e.service && !idle(e)) return;  // a running request keeps it until it ends
        drop(e);
        entries_.erase(entries_.begin() + static_cast<long>(i));
        return;
    }
}

uint64_t ModelPool::footprint(Service& s) {
    return static_cast<uint64_t>(s.model().file->total_size()) + static_cast<uint64_t>(s.scheduler().stats().kv_bytes);
}

uint64_t ModelPool::loaded_bytes() const {
    uint64_t b = 0;
    for (const Entry& e : entries_) b += e.service ? e.bytes : 0;
    return b;
}

namespace {

void add(engine::SchedulerStats& to, const engine::SchedulerStats& s) {
    to.requests += s.requests;
    to.prompt_tokens += s.prompt_tokens;
    to.reused_tokens += s.reused_tokens;
    to.generated_tokens += s.generated_tokens;
    to.cache_hits += s.cache_hits;
    to.cache_evictions += s.cache_evictions;
    to.time_to_first_token.merge(s.time_to_first_token);
    to.inter_token.merge(s.inter_token);
}

}  // namespace

std::vector<ModelPool::ModelStats> ModelPool::stats() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ModelStats> out;
    for (Entry& e : entries_) {
        if (!e.ever_loaded) continue;
        ModelStats m{e.spec.name, e.service != nullptr, e.retired};
        if (e.service) {
            const engine::SchedulerStats live = e.service->scheduler().stats();
            add(m.stats, live);
            m.stats.active = live.active;
            m.stats.queued = live.queued;
            m.stats.cache_entries = live.cache_entries;
            m.stats.kv_bytes = live.kv_bytes;
            m.stats.kv_free_bytes = live.kv_free_bytes;
        }
        out.push_back(std::move(m));
    }
    return out;
}

void ModelPool::drop(Entry& e) {
    if (e.service) add(e.retired, e.service->scheduler().stats());
    e.service.reset();
    e.bytes = 0;
}

api::Result<std::shared_ptr<Service>> ModelPool::acquire(const std::string& name, std::optional<int> keep_alive_s) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return api::Error{ErrorKind::Unavailable, "the server is shutting down", ""};
    const long index = index_locked(name);
    if (index < 0) {
        std::string names;
        for (const Entry& x : entries_) names += (names.empty() ? "" : ", ") + x.spec.name;
        return api::Error{
            ErrorKind::NotFound,
            "the model '" + name + "' does not exist here (" +
                (catalog_.resolve ? std::string("not in the model store; see /api/tags") : "served: " + names) + ")",
            "model"};
    }
    Entry& e = entries_[static_cast<size_t>(index)];
    if (keep_alive_s) e.keep_alive_s = *keep_alive_s;
    e.used = ++clock_;
    e.idle_since = std::chrono::steady_clock::now();
    if (e.service) return e.service;

    // Make room within the budget: idle models go, least recently used first.
    std::error_code ec;
    const uint64_t file_bytes = std::filesystem::file_size(e.spec.path, ec);
    auto make_room = [&](uint64_t need) {
        while (o_.memory_budget > 0 && loaded_bytes() + need > o_.memory_budget) {
            Entry* lru = nullptr;
            for (Entry& x : entries_) {
                if (&x != &e && idle(x) && (lru == nullptr || x.used < lru->used)) lru = &x;
            }
            if (lru == nullptr) return false;
            drop(*lru);
        }
        return true;
    };
    if (!make_room(ec ? 0 : file_bytes)) {
        return api::Error{
            ErrorKind::Overloaded,
            "not enough of the memory budget for '" + e.spec.name + "' while the other models are busy; retry later",
            "model"};
    }
    auto s = Service::load(e.spec.path, o_.service);
    if (!s) {
        return api::Error{ErrorKind::Internal, "cannot load the model '" + e.spec.name + "': " + s.error().message,
                          "model"};
    }
    std::shared_ptr<Service> svc(std::move(s.value()));
    svc->set_name(e.spec.name);
    {
        api::ModelDefaults d;
        d.system = e.spec.system;
        const auto params =
            nlohmann::ordered_json::parse(e.spec.params_json.empty() ? "{}" : e.spec.params_json, nullptr, false);
        if (params.is_object()) d.options = params;
        svc->set_defaults(std::move(d));
    }
    const uint64_t bytes = footprint(*svc);
    if (!make_room(bytes)) {
        return api::Error{ErrorKind::Overloaded,
                          "the model '" + e.spec.name + "' needs " + std::to_string(bytes >> 20) +
                              " MiB (weights and KV cache), more than the memory budget leaves",
                          "model"};
    }
    e.service = svc;
    e.ever_loaded = true;
    e.bytes = bytes;
    e.idle_since = std::chrono::steady_clock::now();
    return svc;
}

bool ModelPool::unload(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    const long index = index_locked(name);
    if (index < 0) return false;
    Entry& e = entries_[static_cast<size_t>(index)];
    if (!idle(e)) return false;
    drop(e);
    return true;
}

std::vector<ModelPool::Loaded> ModelPool::loaded() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Loaded> out;
    const auto now_steady = std::chrono::steady_clock::now();
    const auto now = std::chrono::system_clock::now();
    for (const Entry& e : entries_) {
        if (!e.service) continue;
        const bool is_idle = idle(e);  // before the copy below adds a holder
        Loaded l{e.spec.name, e.bytes, e.service, !is_idle, std::nullopt};
        if (e.keep_alive_s >= 0) {
            const auto idle_for = is_idle ? now_steady - e.idle_since : std::chrono::steady_clock::duration::zero();
            l.expires = now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                  std::chrono::seconds(e.keep_alive_s) - idle_for);
        }
        out.push_back(std::move(l));
    }
    return out;
}

// Every 100 ms: a busy model's idle clock restarts; an idle one past its keep-alive goes.
void ModelPool::reap() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        cv_.wait_for(lock, std::chrono::milliseconds(100));
        if (stopping_) break;
        const auto now = std::chrono::steady_clock::now();
        for (Entry& e : entries_) {
            if (!e.service) continue;
            if (!idle(e)) {
                e.idle_since = now;
            } else if (e.keep_alive_s >= 0 && now - e.idle_since >= std::chrono::seconds(e.keep_alive_s)) {
                drop(e);
            }
        }
    }
}

}  // namespace tf::server
