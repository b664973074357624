#include "pipeline/run.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include "model/context.h"
#include "model/model.h"
#include "pipeline/document_job.h"
#include "pipeline/manifest.h"
#include "pipeline/store.h"
#include "util/progress.h"
#include "util/sha256.h"

namespace tf::pipeline {

using ojson = nlohmann::ordered_json;

Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs) {
    std::vector<std::string> out;
    for (const auto& in : inputs) {
        if (in == "-") {
            out.push_back(in);
            continue;
        }
        std::error_code ec;
        if (std::filesystem::is_directory(in, ec)) {
            std::vector<std::string> found;
            for (auto it = std::filesystem::recursive_directory_iterator(in, ec);
                 !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
                const std::string name = it->path().filename().string();
                if (!name.empty() && name[0] == '.') {
                    if (it->is_directory()) it.disable_recursion_pending();
                    continue;
                }
                if (it->is_regular_file()) found.push_back(it->path().string());
            }
            std::sort(found.begin(), found.end());
            out.insert(out.end(), found.begin(), found.end());
        } else if (std::filesystem::exists(in, ec)) {
            out.push_back(in);
        } else {
            return Error{in + ": no such file or folder"};
        }
    }
    return out;
}

namespace {

// What every round needs, loaded once: the model, its tokenizer and template, the store.
struct Loaded {
    std::unique_ptr<LoadedModel> m;
    std::string key;  // the task's key for this model
    std::unique_ptr<JobStore> store;
};

Result<std::unique_ptr<Loaded>> load(const std::string& model_path, const TaskConfig& task,
                                     const std::string& store_spec) {
    auto l = std::make_unique<Loaded>();
    auto m = load_model(model_path);
    if (!m) return m.error();
    l->m = std::move(*m);
    if (Status st = check_task(*l->m, task); !st) return st.error();
    auto store = open_store(store_spec);
    if (!store) return store.error();
    l->store = std::move(*store);
    l->key = task.key(l->m->sha256);
    return l;
}

Item read_item(const Loaded& l, const std::string& path, const std::string& stdin_text) {
    std::string error;
    const std::string bytes = read_item_bytes(path, stdin_text, error);
    return make_item(l.key, path, bytes, error);
}

Result<Document> load_item(const Item& item, const std::string& stdin_text) {
    if (!item.read_error.empty()) return Error{item.read_error};
    std::string error;
    const std::string bytes = read_item_bytes(item.path, stdin_text, error);
    if (!error.empty()) return Error{error};
    return document_of(item, bytes);
}

double since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Computes every item the store does not hold yet (worker threads, each with its own context)
// and stores each result the moment it is done. With `stop` set, workers finish their current
// document and take no new one.
Status compute(Loaded& l, const TaskConfig& task, const std::vector<Item>& items, const RunOptions& o,
               const std::string& stdin_text, RunSummary& sum, const std::atomic<bool>* stop, Ledger& ledger) {
    std::atomic<size_t> next{0}, done{0};
    std::mutex mu;
    Status failure = Status::success();
    {
        std::lock_guard<std::mutex> lock(mu);
        if (Status st = update_ledger(*l.store, ledger, sum); !st) return st;
    }
    Progress progress(task.kind, o.progress, Progress::Off::Lines, "documents");
    auto worker = [&]() {
        std::unique_ptr<TaskRunner> runner;
        while (stop == nullptr || !stop->load()) {
            const size_t i = next++;
            if (i >= items.size()) break;
            const Item& item = items[i];
            const auto t0 = std::chrono::steady_clock::now();
            auto existing = l.store->get(item.sha, item.key);
            if (!existing) {
                std::lock_guard<std::mutex> lock(mu);
                failure = existing.error();
                return;
            }
            if (existing->has_value()) {
                std::lock_guard<std::mutex> lock(mu);
                ++sum.from_store;
            } else {
                Result<Document> doc = load_item(item, stdin_text);
                if (doc && !runner)
                    runner =
                        std::make_unique<TaskRunner>(*l.m->model, *l.m->tok, *l.m->tmpl, task, o.threads_per_worker);
                DocumentWork w = compute_document(*runner, task, item, std::move(doc), *l.store, o.route,
                                                  [&](uint64_t tin, uint64_t tout) {
                                                      std::lock_guard<std::mutex> lock(mu);
                                                      sum.tokens_in += tin;
                                                      sum.tokens_out += tout;
                                                      (void)update_ledger(*l.store, ledger, sum);
                                                  });
                if (Status st = l.store->put(w.record); !st) {
                    std::lock_guard<std::mutex> lock(mu);
                    failure = st;
                    return;
                }
                std::lock_guard<std::mutex> lock(mu);
                ++sum.computed;
                sum.tokens_in += w.tokens_in;
                sum.tokens_out += w.tokens_out;
                sum.model_seconds += w.model_seconds;
                sum.remote.tokens_in += w.remote.tokens_in;
                sum.remote.tokens_out += w.remote.tokens_out;
                sum.remote.usd += w.remote.usd;
                if (Status st = update_ledger(*l.store, ledger, sum); !st) failure = st;
            }
            const size_t d = ++done;
            std::lock_guard<std::mutex> lock(mu);
            sum.worker_seconds += since(t0);
            const double secs = std::max(progress.elapsed(), 1e-3);
            char detail[96];
            std::snprintf(detail, sizeof detail, "%.2f docs/s, %.0f tokens/s", static_cast<double>(d) / secs,
                          static_cast<double>(sum.tokens_in + sum.tokens_out) / secs);
            progress.update(d, items.size(), detail);
        }
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < std::max(1, std::min<int>(o.workers, static_cast<int>(items.size()))); ++w)
        threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    progress.finish();
    return failure;
}

// The output line of a stored result.
Result<std::string> stored_line(Loaded& l, const TaskConfig& task, const Item& item, RunSummary& sum,
                                ManifestDocument& md) {
    auto rec = l.store->get(item.sha, item.key);
    if (!rec) return rec.error();
    if (!rec->has_value()) return Error{"job store: the result of " + item.path + " is missing"};
    return output_line(task, item, **rec, sum, md);
}

}  // namespace

Result<RunSummary> run_task(const std::string& model_path, const TaskConfig& task, const RunOptions& o) {
    const double cpu0 = cpu_seconds_now(), rapl0 = rapl_uj();
    const int64_t started_at = static_cast<int64_t>(std::time(nullptr));
    auto inputs = expand_inputs(o.inputs);
    if (!inputs) return inputs.error();
    const std::vector<std::string> found = expand_documents(*inputs);  // e-mails' attachments after them
    const std::vector<std::string>* files = &found;
    auto loaded = load(model_path, task, o.store_path);
    if (!loaded) return loaded.error();
    Loaded& l = **loaded;

    // Standard input is read once, up front.
    std::string stdin_text;
    if (std::find(files->begin(), files->end(), "-") != files->end()) {
        stdin_text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    std::vector<Item> items;
    for (const auto& f : *files) items.push_back(read_item(l, f, stdin_text));

    RunSummary sum;
    sum.documents = items.size();
    Ledger ledger = start_ledger(*l.m, task.kind, o.watts_per_core, cpu0, rapl0, started_at);
    if (Status st = compute(l, task, items, o, stdin_text, sum, nullptr, ledger); !st) return st.error();

    // The output, in input order, from the store.
    std::string out;
    std::vector<ManifestDocument> manifest_docs(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        auto line = stored_line(l, task, items[i], sum, manifest_docs[i]);
        if (!line) return line.error();
        out += *line;
    }
    if (o.output.empty()) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
    } else if (Status st = write_atomically(o.output, out); !st) {
        return st.error();
    }
    if (const std::string mp = default_manifest_path(o); !mp.empty()) {
        if (Status st = write_atomically(mp, make_manifest(model_path, l.m->sha256, task, manifest_docs, o.output)
                                                     .dump(1, ' ', false, ojson::error_handler_t::replace) +
                                                 "\n");
            !st)
            return st.error();
        sum.manifest_path = mp;
    }
    if (Status st = update_ledger(*l.store, ledger, sum); !st) return st.error();
    return sum;
}

namespace {

// The (path, sha256) of every complete line already in an appended output; a torn last line
// (a crash in the middle of a write) is cut off, its document is written again.
Result<std::set<std::pair<std::string, std::string>>> lines_in_output(const std::string& path) {
    std::set<std::pair<std::string, std::string>> seen;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return seen;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot read"};
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t complete = text.empty() ? 0 : text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (complete != text.size()) {
        std::filesystem::resize_file(path, complete, ec);
        if (ec) return Error{path + ": cannot cut off a torn last line: " + ec.message()};
        text.resize(complete);
    }
    size_t at = 0;
    while (at < text.size()) {
        const size_t nl = text.find('\n', at);
        const ojson j = ojson::parse(text.substr(at, nl - at), nullptr, false);
        if (j.is_object() && j.contains("path") && j["path"].is_string() && j.contains("sha256") &&
            j["sha256"].is_string()) {
            seen.insert({j["path"].get<std::string>(), j["sha256"].get<std::string>()});
        }
        at = nl + 1;
    }
    return seen;
}

Status append_durably(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Error{path + ": cannot open for appending"};
    size_t off = 0;
    while (off < text.size()) {
        const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n <= 0) {
            ::close(fd);
            return Error{path + ": cannot append"};
        }
        off += static_cast<size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced) return Error{path + ": cannot flush to disk"};
    return Status::success();
}

// Moves a finished file into `dir` (a free name when one is taken); its new path.
// Where a finished file goes in `dir`: a free name, none of `taken` (this round's others).
std::string destination_in(const std::string& file, const std::string& dir, std::set<std::string>& taken) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path name = fs::path(file).filename();
    fs::path to = fs::path(dir) / name;
    for (int n = 1; fs::exists(to, ec) || taken.count(to.string()); ++n) {
        to = fs::path(dir) / (name.stem().string() + "-" + std::to_string(n) + name.extension().string());
    }
    taken.insert(to.string());
    return to.string();
}

Status move_file(const std::string& file, const std::string& to) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(fs::path(to).parent_path(), ec);
    fs::rename(file, to, ec);
    if (ec) {  // another file system: copy, then remove
        fs::copy_file(file, to, ec);
        if (ec) return Error{file + ": cannot move to " + to + ": " + ec.message()};
        fs::remove(file, ec);
    }
    return Status::success();
}

}  // namespace

Result<RunSummary> watch_task(const std::string& model_path, const TaskConfig& task, const RunOptions& o,
                              const WatchOptions& w) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(w.inbox, ec)) return Error{w.inbox + ": not a folder"};
    if (!w.move_to.empty()) {
        const fs::path a = fs::weakly_canonical(w.inbox, ec), b = fs::weakly_canonical(w.move_to, ec);
        const std::string as = a.string() + "/", bs = b.string() + "/";
        if (bs.compare(0, as.size(), as) == 0 && bs.substr(as.size()).find("/.") == std::string::npos &&
            bs.substr(as.size())[0] != '.') {
            return Error{
                w.move_to +
                ": the folder finished files move to must not be inside the inbox (unless hidden, e.g. INBOX/.done)"};
        }
    }
    auto loaded = load(model_path, task, o.store_path);
    if (!loaded) return loaded.error();
    Loaded& l = **loaded;
    std::set<std::pair<std::string, std::string>> in_output;
    if (!o.output.empty()) {
        auto seen = lines_in_output(o.output);
        if (!seen) return seen.error();
        in_output = std::move(*seen);
    }
    const std::string manifest_path = default_manifest_path(o);
    std::vector<ManifestDocument> manifest_docs;
    // A watch started again continues the manifest of the same task and model.
    if (!manifest_path.empty() && fs::exists(manifest_path, ec)) {
        std::ifstream in(manifest_path, std::ios::binary);
        const ojson m = ojson::parse(in, nullptr, false);
        if (m.is_object() && m.contains("task") && m["task"].is_object() && m["task"].value("key", "") == l.key &&
            m.contains("documents") && m["documents"].is_array()) {
            for (const ojson& d : m["documents"]) {
                if (!d.is_object()) continue;
                manifest_docs.push_back({d.value("path", ""), d.value("sha256", ""), d.value("status", ""),
                                         d.value("output_sha256", ""), d.value("line_sha256", "")});
            }
        }
    }
    std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> handled;  // files left in place, as they were
    RunSummary total;
    const size_t round_cap = static_cast<size_t>(std::max(1, o.workers)) * 16;
    auto stopped = [&] { return w.stop != nullptr && w.stop->load(); };
    while (!stopped()) {
        auto files = expand_inputs({w.inbox});
        if (!files) return files.error();
        std::vector<std::string> ready;
        const auto now = fs::file_time_type::clock::now();
        for (const auto& f : *files) {
            const auto mtime = fs::last_write_time(f, ec);
            if (ec) continue;
            const uintmax_t size = fs::file_size(f, ec);
            if (ec) continue;
            if (std::chrono::duration<double>(now - mtime).count() < w.settle_seconds) continue;  // still arriving
            auto h = handled.find(f);
            if (h != handled.end() && h->second == std::make_pair(size, mtime)) continue;
            ready.push_back(f);
            if (ready.size() == round_cap) break;
        }
        if (ready.empty()) {
            for (double slept = 0; slept < w.poll_seconds && !stopped(); slept += 0.05)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        const double cpu0 = cpu_seconds_now(), rapl0 = rapl_uj();
        const int64_t started_at = static_cast<int64_t>(std::time(nullptr));
        std::vector<Item> items;
        for (const auto& f : expand_documents(ready)) items.push_back(read_item(l, f, ""));
        RunSummary round;
        round.documents = items.size();
        Ledger ledger = start_ledger(*l.m, task.kind, o.watts_per_core, cpu0, rapl0, started_at);
        if (Status st = compute(l, task, items, o, "", round, w.stop, ledger); !st) return st.error();
        std::string out;
        // The round's manifest first (each file at the place it is about to move to), then its
        // lines, then the moves: a crash at any point leaves no output line the manifest does
        // not cover; what it may leave is a line or a move still to do, which the next watch
        // does (the file is still in the inbox).
        std::vector<std::pair<std::string, std::string>> moves;  // from, to
        std::set<std::string> taken;
        // A file and its attachments go together: while any of them is not done (stopped
        // before it), none is written or moved, and the next watch takes the file again.
        std::set<std::string> unfinished;
        auto file_of = [](const std::string& path) {
            std::string mail;
            size_t n = 0;
            return split_attachment_address(path, mail, n) ? mail : path;
        };
        for (const Item& item : items) {
            auto rec = l.store->get(item.sha, item.key);
            if (!rec) return rec.error();
            if (!rec->has_value()) unfinished.insert(file_of(item.path));
        }
        std::map<std::string, std::string> moved_to;  // a file's destination, for its attachments' addresses
        for (const Item& item : items) {
            const std::string file = file_of(item.path);
            if (unfinished.count(file)) continue;
            ManifestDocument md;
            auto line = stored_line(l, task, item, round, md);
            if (!line) return line.error();
            if (o.output.empty() || in_output.insert({item.path, item.sha}).second) out += *line;
            if (file != item.path) {  // an attachment: recorded where its message goes
                if (auto m = moved_to.find(file); m != moved_to.end())
                    md.path = m->second + item.path.substr(file.size());
            } else if (!w.move_to.empty()) {
                md.path = destination_in(item.path, w.move_to, taken);
                moved_to[item.path] = md.path;
                moves.emplace_back(item.path, md.path);
            } else {
                const auto mtime = fs::last_write_time(item.path, ec);
                const uintmax_t size = fs::file_size(item.path, ec);
                handled[item.path] = {size, mtime};
            }
            manifest_docs.push_back(md);
        }
        if (!manifest_path.empty()) {
            if (Status st = write_atomically(manifest_path,
                                             make_manifest(model_path, l.m->sha256, task, manifest_docs, o.output)
                                                     .dump(1, ' ', false, ojson::error_handler_t::replace) +
                                                 "\n");
                !st) {
                return st.error();
            }
            round.manifest_path = manifest_path;
        }
        if (o.output.empty()) {
            std::fwrite(out.data(), 1, out.size(), stdout);
            std::fflush(stdout);
        } else if (!out.empty()) {
            if (Status st = append_durably(o.output, out); !st) return st.error();
        }
        for (const auto& [from, to] : moves) {
            if (Status st = move_file(from, to); !st) return st.error();
        }
        if (Status st = update_ledger(*l.store, ledger, round); !st) return st.error();
        total.documents += round.documents;
        total.computed += round.computed;
        total.from_store += round.from_store;
        total.errors += round.errors;
        total.tokens_in += round.tokens_in;
        total.tokens_out += round.tokens_out;
        total.seconds += round.seconds;
        total.cpu_seconds += round.cpu_seconds;
        total.energy_wh += round.energy_wh;
        total.model_seconds += round.model_seconds;
        total.worker_seconds += round.worker_seconds;
        total.energy_source = round.energy_source;
        total.manifest_path = round.manifest_path;
        if (w.on_round) w.on_round(round);
    }
    return total;
}

}  // namespace tf::pipeline
