#include "pipeline/manifest.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <span>

#include "model/model.h"
#include "pipeline/document.h"
#include "util/progress.h"
#include "util/sha256.h"

namespace tf::pipeline {

using ojson = nlohmann::ordered_json;

std::string sha256_of(const std::string& b) {
    return sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()));
}

ojson make_manifest(const std::string& model_path, const std::string& model_sha, const TaskConfig& t, const std::vector<ManifestDocument>& docs) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ojson task = {{"kind", t.kind}, {"prompt", t.effective_prompt()}, {"prompt_sha256", sha256_of(t.effective_prompt())},
                  {"n_ctx", t.n_ctx}, {"max_output_tokens", t.max_output_tokens}, {"key", t.key(model_sha)}};
    if (t.kind == "extract") task["schema"] = t.schema, task["schema_sha256"] = sha256_of(t.schema.dump());
    if (t.kind == "classify") task["labels"] = t.labels;
    if (t.kind == "summarize") task["words"] = t.summary_words;
    task["kv_cache"] = {{"k", std::string(tensor_type_name(t.k_type))}, {"v", std::string(tensor_type_name(t.v_type))}};
    ojson d = ojson::array();
    for (const auto& x : docs) {
        d.push_back({{"path", x.path}, {"sha256", x.sha256}, {"status", x.status}, {"output_sha256", x.output_sha256}});
    }
    return {{"manifest_version", 1},
            {"engine", kEngineVersion},
            {"created", when},
            {"model", {{"path", model_path}, {"sha256", model_sha}}},
            {"task", task},
            {"decoding", {{"temperature", 0}, {"note", "greedy; results do not depend on threads, batching or order"}}},
            {"documents", d}};
}

Result<VerifyReport> verify_manifest(const ojson& m, int threads, bool progress) {
    try {
        if (m.value("manifest_version", 0) != 1) return Error{"not a Terraferma manifest (manifest_version 1)"};
        VerifyReport rep;
        const std::string model_path = m["model"]["path"];
        const std::string want_sha = m["model"]["sha256"];
        std::ifstream mf(model_path, std::ios::binary);
        if (!mf) return Error{model_path + ": cannot open the model the manifest names"};
        auto model = model::Model::load(model_path);
        if (!model) return model.error();
        const auto& mb = (*model)->file->bytes();
        const std::string got_sha = sha256_hex(std::span<const uint8_t>(mb.data(), mb.size()));
        if (got_sha != want_sha) {
            rep.problems.push_back("model " + model_path + " has SHA-256 " + got_sha + ", the manifest recorded " + want_sha +
                                   ": not the model that produced these results");
            return rep;
        }
        if (m["engine"] != kEngineVersion) rep.problems.push_back("engine " + m["engine"].get<std::string>() + " recorded, this is " + kEngineVersion);
        TaskConfig t;
        const ojson& task = m["task"];
        t.kind = task["kind"];
        t.prompt = task["prompt"];
        t.n_ctx = task["n_ctx"];
        t.max_output_tokens = task["max_output_tokens"];
        if (task.contains("schema")) t.schema = task["schema"];
        if (task.contains("labels")) t.labels = task["labels"].get<std::vector<std::string>>();
        if (task.contains("words")) t.summary_words = task["words"];
        if (task.contains("kv_cache")) {  // absent in manifests written before the option: F16
            for (const auto& [field, out] : {std::pair{"k", &t.k_type}, std::pair{"v", &t.v_type}}) {
                const auto type = tensor_type_from_name(task["kv_cache"][field].get<std::string>());
                if (!type || (*type != TensorType::F16 && *type != TensorType::Q8_0)) return Error{"malformed manifest: task.kv_cache." + std::string(field)};
                *out = *type;
            }
        }
        auto tok = tok::Tokenizer::from_file(*(*model)->file);
        if (!tok) return tok.error();
        auto tmpl = chat::ChatTemplate::from_model(*(*model)->file);
        if (!tmpl) return tmpl.error();
        TaskRunner runner(**model, *tok, *tmpl, t, threads);
        Progress bar("verify", progress);
        const ojson& docs = m["documents"];
        for (size_t i = 0; i < docs.size(); ++i) {
            const ojson& d = docs[i];
            ++rep.documents;
            const std::string path = d["path"];
            if (path == "-") {
                ++rep.skipped;
                continue;
            }
            std::ifstream in(path, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (!in.good() && !in.eof()) {
                rep.problems.push_back(path + ": cannot read it any more");
                continue;
            }
            if (sha256_of(bytes) != d["sha256"]) {
                rep.problems.push_back(path + ": the document changed since the run");
                continue;
            }
            if (d["status"] != "ok") {
                auto doc = load_document(path);
                if (doc) rep.problems.push_back(path + ": failed in the run, loads now");
                else ++rep.identical;
                continue;
            }
            auto doc = load_document(path);
            if (!doc) {
                rep.problems.push_back(path + ": " + doc.error().message);
                continue;
            }
            auto r = runner.run(*doc);
            if (!r) {
                rep.problems.push_back(path + ": " + r.error().message);
            } else if (sha256_of(r->dump()) != d["output_sha256"]) {
                rep.problems.push_back(path + ": the output differs from the recorded one");
            } else {
                ++rep.identical;
            }
            bar.update(i + 1, docs.size());
        }
        bar.finish();
        return rep;
    } catch (const std::exception& e) {
        return Error{std::string("malformed manifest: ") + e.what()};
    }
}

}  // namespace tf::pipeline
