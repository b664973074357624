#include "pipeline/run.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <span>
#include <thread>
#include <ctime>
#include <sys/resource.h>

#include "model/model.h"
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
            for (auto it = std::filesystem::recursive_directory_iterator(in, ec); !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
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

double cpu_seconds_now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The package energy counter (microjoules) when this machine exposes it; -1 otherwise.
double rapl_uj() {
    std::ifstream f("/sys/class/powercap/intel-rapl:0/energy_uj");
    double v = -1;
    if (!(f >> v)) return -1;
    return v;
}

std::string hash_bytes(const std::string& b) {
    return sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()));
}

}  // namespace

Result<RunSummary> run_task(const std::string& model_path, const TaskConfig& task, const RunOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds_now(), rapl0 = rapl_uj();
    const int64_t started_at = static_cast<int64_t>(std::time(nullptr));
    auto files = expand_inputs(o.inputs);
    if (!files) return files.error();
    auto model = model::Model::load(model_path);
    if (!model) return model.error();
    auto tok = tok::Tokenizer::from_file(*(*model)->file);
    if (!tok) return tok.error();
    auto tmpl = chat::ChatTemplate::from_model(*(*model)->file);
    if (!tmpl) return tmpl.error();
    auto store = open_sqlite_store(o.store_path);
    if (!store) return store.error();
    const auto& mb = (*model)->file->bytes();
    const std::string model_sha = sha256_hex(std::span<const uint8_t>(mb.data(), mb.size()));
    const std::string key = task.key(model_sha);

    // Standard input is read once, up front.
    std::string stdin_text;
    if (std::find(files->begin(), files->end(), "-") != files->end()) {
        stdin_text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    struct Item {
        std::string path, sha;
        std::string read_error;
    };
    std::vector<Item> items;
    for (const auto& f : *files) {
        Item it{f, "", ""};
        std::string bytes;
        if (f == "-") {
            bytes = stdin_text;
        } else {
            std::ifstream in(f, std::ios::binary);
            if (!in) it.read_error = f + ": cannot open";
            else bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        it.sha = hash_bytes(bytes);
        items.push_back(std::move(it));
    }

    RunSummary sum;
    sum.documents = items.size();
    std::atomic<size_t> next{0}, done{0};
    std::mutex mu;
    Status failure = Status::success();
    Progress progress(task.kind, o.progress);
    auto worker = [&]() {
        std::unique_ptr<TaskRunner> runner;
        while (true) {
            const size_t i = next++;
            if (i >= items.size()) break;
            const Item& item = items[i];
            auto existing = (*store)->get(item.sha, key);
            if (!existing) {
                std::lock_guard<std::mutex> lock(mu);
                failure = existing.error();
                return;
            }
            if (existing->has_value()) {
                std::lock_guard<std::mutex> lock(mu);
                ++sum.from_store;
            } else {
                JobRecord rec{item.sha, key, item.path, "ok", "", ""};
                Result<Document> doc = item.read_error.empty() ? (item.path == "-" ? [&]() -> Result<Document> {
                    Document d;
                    d.path = "-";
                    d.kind = "txt";
                    d.text = valid_utf8(stdin_text);
                    d.page_starts = {0};
                    d.sha256 = item.sha;
                    return d;
                }()
                                                                                     : load_document(item.path))
                                                             : Result<Document>(Error{item.read_error});
                uint64_t tin = 0, tout = 0;
                if (!doc) {
                    rec.status = "error";
                    rec.error = doc.error().message;
                } else {
                    if (!runner) runner = std::make_unique<TaskRunner>(**model, *tok, *tmpl, task, o.threads_per_worker);
                    tin = runner->tokens_in();
                    tout = runner->tokens_out();
                    auto r = runner->run(*doc);
                    tin = runner->tokens_in() - tin;
                    tout = runner->tokens_out() - tout;
                    if (r) {
                        rec.output = r->dump();
                    } else {
                        rec.status = "error";
                        rec.error = item.path + ": " + r.error().message;
                    }
                }
                if (Status st = (*store)->put(rec); !st) {
                    std::lock_guard<std::mutex> lock(mu);
                    failure = st;
                    return;
                }
                std::lock_guard<std::mutex> lock(mu);
                ++sum.computed;
                sum.tokens_in += tin;
                sum.tokens_out += tout;
            }
            const size_t d = ++done;
            std::lock_guard<std::mutex> lock(mu);
            progress.update(d, items.size());
        }
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < std::max(1, std::min<int>(o.workers, static_cast<int>(items.size()))); ++w) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    progress.finish();
    if (!failure) return failure.error();

    // The output, in input order, from the store.
    std::string out;
    std::vector<ManifestDocument> manifest_docs;
    for (const Item& item : items) {
        auto rec = (*store)->get(item.sha, key);
        if (!rec || !rec->has_value()) return Error{"job store: the result of " + item.path + " is missing"};
        const JobRecord& r = **rec;
        manifest_docs.push_back({item.path, item.sha, r.status, r.status == "ok" ? sha256_of(r.output) : ""});
        ojson line = {{"path", item.path}, {"sha256", item.sha}, {"task", task.kind}, {"status", r.status}};
        if (r.status == "ok") {
            const ojson result = ojson::parse(r.output, nullptr, false);
            if (result.is_object()) {
                for (auto it = result.begin(); it != result.end(); ++it) line[it.key()] = *it;
            }
        } else {
            line["error"] = r.error;
            ++sum.errors;
        }
        out += line.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
    }
    if (o.output.empty()) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
    } else {
        const std::string tmp = o.output + ".partial";
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            if (!f || !f.write(out.data(), static_cast<std::streamsize>(out.size())) || !f.flush()) return Error{o.output + ": cannot write"};
        }
        std::error_code ec;
        std::filesystem::rename(tmp, o.output, ec);
        if (ec) return Error{o.output + ": cannot write: " + ec.message()};
    }
    std::string manifest_path = o.manifest;
    if (manifest_path.empty() && !o.output.empty()) {
        manifest_path = o.output;
        if (manifest_path.size() > 6 && manifest_path.substr(manifest_path.size() - 6) == ".jsonl") manifest_path.resize(manifest_path.size() - 6);
        manifest_path += ".manifest.json";
    }
    if (!manifest_path.empty()) {
        const std::string text = make_manifest(model_path, model_sha, task, manifest_docs).dump(1) + "\n";
        const std::string tmp = manifest_path + ".partial";
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f || !f.write(text.data(), static_cast<std::streamsize>(text.size())) || !f.flush()) return Error{manifest_path + ": cannot write"};
        f.close();
        std::error_code ec;
        std::filesystem::rename(tmp, manifest_path, ec);
        if (ec) return Error{manifest_path + ": cannot write: " + ec.message()};
        sum.manifest_path = manifest_path;
    }
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sum.cpu_seconds = cpu_seconds_now() - cpu0;
    const double rapl1 = rapl0 >= 0 ? rapl_uj() : -1;
    if (rapl0 >= 0 && rapl1 >= rapl0) {
        sum.energy_wh = (rapl1 - rapl0) / 3.6e9;
        sum.energy_source = "rapl";
    } else {
        sum.energy_wh = sum.cpu_seconds * o.watts_per_core / 3600.0;
        sum.energy_source = "cpu-time x " + std::to_string(static_cast<int>(o.watts_per_core)) + " W";
    }
    RunRecord rr;
    rr.started_at = started_at;
    rr.task = task.kind;
    rr.model_sha256 = model_sha;
    rr.model_name = std::filesystem::path(model_path).stem().string();
    rr.documents = static_cast<int64_t>(sum.documents);
    rr.computed = static_cast<int64_t>(sum.computed);
    rr.errors = static_cast<int64_t>(sum.errors);
    rr.tokens_in = static_cast<int64_t>(sum.tokens_in);
    rr.tokens_out = static_cast<int64_t>(sum.tokens_out);
    rr.wall_seconds = sum.seconds;
    rr.cpu_seconds = sum.cpu_seconds;
    rr.energy_wh = sum.energy_wh;
    rr.energy_source = sum.energy_source;
    if (Status st = (*store)->record_run(rr); !st) return st.error();
    return sum;
}

}  // namespace tf::pipeline
