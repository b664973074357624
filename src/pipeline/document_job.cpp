#include "pipeline/document_job.h"

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <span>

#include "model/context.h"
#include "util/sha256.h"

namespace tf::pipeline {

using ojson = nlohmann::ordered_json;

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& model_path) {
    auto m = std::make_unique<LoadedModel>();
    m->path = model_path;
    auto model = model::Model::load(model_path);
    if (!model) return model.error();
    m->model = std::move(*model);
    auto tok = tok::Tokenizer::from_file(*m->model->file);
    if (!tok) return tok.error();
    m->tok = std::make_unique<tok::Tokenizer>(std::move(*tok));
    auto tmpl = chat::ChatTemplate::from_model(*m->model->file);
    if (!tmpl) return tmpl.error();
    m->tmpl = std::make_unique<chat::ChatTemplate>(std::move(*tmpl));
    m->sha256 = m->model->file->content_sha256();
    return m;
}

Status check_task(const LoadedModel& m, const TaskConfig& task) {
    if (Status st = model::Context::check(
            *m.model,
            model::ContextOptions{task.n_ctx, 1, 1, model::AttentionNumerics::Float, task.k_type, task.v_type});
        !st) {
        return Error{m.path + ": " + st.error().message};
    }
    return Status::success();
}

std::string hash_bytes(const std::string& b) {
    return sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()));
}

std::string read_item_bytes(const std::string& path, const std::string& stdin_text, std::string& error) {
    if (path == "-") return stdin_text;
    auto bytes = read_document_bytes(path);  // a file, or an attachment out of its message
    if (!bytes) {
        error = bytes.error().message;
        return {};
    }
    return std::move(*bytes);
}

Item make_item(const std::string& task_key, const std::string& path, const std::string& bytes,
               const std::string& read_error) {
    Item it{path, hash_bytes(bytes), "", "", read_error};
    it.format = read_error.empty() ? detect_format(path, bytes) : "unreadable";
    it.key = hash_bytes(task_key + "\nreader " + reader_id(it.format, path));
    return it;
}

Result<Document> document_of(const Item& item, const std::string& bytes) {
    if (!item.read_error.empty()) return Error{item.read_error};
    // The result is stored under these bytes' hash: bytes that changed since are not taken.
    if (hash_bytes(bytes) != item.sha) return Error{"the file changed while it was being processed; run again"};
    auto d = read_document(item.path, bytes);
    if (!d) {
        // Stored without the path: the same bytes may come back under another name.
        std::string m = d.error().message;
        if (m.rfind(item.path + ": ", 0) == 0) m = m.substr(item.path.size() + 2);
        return Error{m};
    }
    return d;
}

DocumentWork compute_document(TaskRunner& runner, const TaskConfig& task, const Item& item, Result<Document> doc,
                              JobStore& steps, const RouteUse& route,
                              const std::function<void(uint64_t, uint64_t)>& on_step) {
    DocumentWork w;
    w.record = JobRecord{item.sha, item.key, item.path, "ok", "", ""};
    if (!doc) {
        w.record.status = "error";
        w.record.error = doc.error().message;
        return w;
    }
    uint64_t seen_in = runner.tokens_in(), seen_out = runner.tokens_out();
    const double model_s = runner.model_seconds();
    // Each finished step of the document is kept, and its work reported at once: a kill loses
    // at most the step under way.
    StepMemo memo;
    memo.get = [&](const std::string& step) -> std::optional<std::string> {
        auto v = steps.get_step(item.sha, item.key, step);
        return v ? *v : std::nullopt;
    };
    memo.put = [&](const std::string& step, const std::string& value) {
        (void)steps.put_step(item.sha, item.key, step, value);
        const uint64_t tin = runner.tokens_in() - seen_in, tout = runner.tokens_out() - seen_out;
        seen_in = runner.tokens_in();
        seen_out = runner.tokens_out();
        if (on_step) on_step(tin, tout);
    };
    auto r = route.router ? run_routed(runner, task, *doc, &memo, route, w.remote) : runner.run(*doc, &memo);
    w.tokens_in = runner.tokens_in() - seen_in;
    w.tokens_out = runner.tokens_out() - seen_out;
    w.model_seconds = runner.model_seconds() - model_s;
    if (r) {
        w.record.output = r->dump(-1, ' ', false, ojson::error_handler_t::replace);
    } else {
        w.record.status = "error";
        w.record.error = r.error().message;
    }
    return w;
}

std::string output_line(const TaskConfig& task, const Item& item, const JobRecord& r, RunSummary& sum,
                        ManifestDocument& md) {
    md = {item.path, item.sha, r.status, r.status == "ok" ? sha256_of(r.output) : sha256_of(r.error), "", "", false};
    if (r.status == "ok") {
        // A routed result: the manifest names its tier, and its digest leaves the route out, so
        // that `verify` compares a local tier's result with the model's own.
        ojson result = ojson::parse(r.output, nullptr, false);
        if (result.is_object() && result.contains("route") && result["route"].is_object()) {
            md.tier = result["route"].value("tier", "");
            md.remote = result["route"].value("remote", false);
            result.erase("route");
            md.output_sha256 = sha256_of(result.dump(-1, ' ', false, ojson::error_handler_t::replace));
        }
    }
    ojson line = {{"path", item.path}, {"sha256", item.sha}, {"task", task.kind}, {"status", r.status}};
    std::string mail;
    size_t n = 0;
    if (split_attachment_address(item.path, mail, n)) line["parent"] = mail;  // an attachment: its message
    if (r.status == "ok") {
        const ojson result = ojson::parse(r.output, nullptr, false);
        if (result.is_object()) {
            for (auto it = result.begin(); it != result.end(); ++it) line[it.key()] = *it;
        }
    } else {
        // Errors are stored without a path (the same bytes may have had another name): the
        // line names the file it is about.
        line["error"] = item.path + ": " + r.error;
        ++sum.errors;
    }
    std::string text = line.dump(-1, ' ', false, ojson::error_handler_t::replace);
    md.line_sha256 = sha256_of(text);
    return text + "\n";
}

double cpu_seconds_now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double rapl_uj() {
    std::ifstream f("/sys/class/powercap/intel-rapl:0/energy_uj");
    double v = -1;
    if (!(f >> v)) return -1;
    return v;
}

Ledger start_ledger(const LoadedModel& m, const std::string& task_kind, double watts_per_core, double cpu0,
                    double rapl0, int64_t started_at) {
    Ledger g;
    g.cpu0 = cpu0;
    g.rapl0 = rapl0;
    g.watts_per_core = watts_per_core;
    g.row.started_at = started_at;
    g.row.task = task_kind;
    g.row.model_sha256 = m.sha256;
    g.row.model_name = std::filesystem::path(m.path).stem().string();
    return g;
}

Status update_ledger(JobStore& store, Ledger& g, RunSummary& sum) {
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - g.t0).count();
    sum.cpu_seconds = cpu_seconds_now() - g.cpu0;
    const double rapl1 = g.rapl0 >= 0 ? rapl_uj() : -1;
    if (g.rapl0 >= 0 && rapl1 >= g.rapl0) {
        sum.energy_wh = (rapl1 - g.rapl0) / 3.6e9;
        sum.energy_source = "rapl";
    } else {
        sum.energy_wh = sum.cpu_seconds * g.watts_per_core / 3600.0;
        sum.energy_source = "cpu-time x " + std::to_string(static_cast<int>(g.watts_per_core)) + " W";
    }
    RunRecord& rr = g.row;
    rr.documents = static_cast<int64_t>(sum.documents);
    rr.computed = static_cast<int64_t>(sum.computed);
    rr.errors = static_cast<int64_t>(sum.errors);
    rr.tokens_in = static_cast<int64_t>(sum.tokens_in);
    rr.tokens_out = static_cast<int64_t>(sum.tokens_out);
    rr.remote_tokens_in = static_cast<int64_t>(sum.remote.tokens_in);
    rr.remote_tokens_out = static_cast<int64_t>(sum.remote.tokens_out);
    rr.remote_usd = sum.remote.usd;
    rr.wall_seconds = sum.seconds;
    rr.cpu_seconds = sum.cpu_seconds;
    rr.energy_wh = sum.energy_wh;
    rr.energy_source = sum.energy_source;
    return store.record_run(rr);
}

Status write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".partial";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f || !f.write(text.data(), static_cast<std::streamsize>(text.size())) || !f.flush())
            return Error{path + ": cannot write"};
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return Error{path + ": cannot write: " + ec.message()};
    return Status::success();
}

std::string default_manifest_path(const RunOptions& o) {
    if (!o.manifest.empty() || o.output.empty()) return o.manifest;
    std::string p = o.output;
    if (p.size() > 6 && p.substr(p.size() - 6) == ".jsonl") p.resize(p.size() - 6);
    return p + ".manifest.json";
}

}  // namespace tf::pipeline
