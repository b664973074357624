#include "pipeline/manifest.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
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

namespace {

// The manifest's digest: SHA-256 of its canonical text without the digest itself.
std::string digest_of(ojson m) {
    m.erase("digest");
    return sha256_of(m.dump(-1, ' ', false, ojson::error_handler_t::replace));
}

}  // namespace

ojson make_manifest(const std::string& model_path, const std::string& model_sha, const TaskConfig& t,
                    const std::vector<ManifestDocument>& docs, const std::string& output) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ojson task = {{"kind", t.kind},
                  {"prompt", t.effective_prompt()},
                  {"prompt_sha256", sha256_of(t.effective_prompt())},
                  {"n_ctx", t.n_ctx},
                  {"max_output_tokens", t.max_output_tokens},
                  {"key", t.key(model_sha)}};
    if (!t.route_key.empty()) task["route"] = t.route_key;
    if (t.kind == "extract") task["schema"] = t.schema, task["schema_sha256"] = sha256_of(t.schema.dump());
    if (t.kind == "classify") task["labels"] = t.labels;
    if (t.kind == "summarize") task["words"] = t.summary_words;
    task["kv_cache"] = {{"k", std::string(tensor_type_name(t.k_type))}, {"v", std::string(tensor_type_name(t.v_type))}};
    ojson d = ojson::array();
    for (const auto& x : docs) {
        d.push_back({{"path", x.path},
                     {"sha256", x.sha256},
                     {"status", x.status},
                     {"output_sha256", x.output_sha256},
                     {"line_sha256", x.line_sha256}});
        if (!x.tier.empty()) d.back()["tier"] = x.tier, d.back()["remote"] = x.remote;
    }
    ojson m = {
        {"manifest_version", 2},
        {"engine", kEngineVersion},
        {"created", when},
        {"model", {{"path", model_path}, {"sha256", model_sha}}},
        {"task", task},
        {"decoding", {{"temperature", 0}, {"note", "greedy; results do not depend on threads, batching or order"}}},
        {"output", output.empty() ? ojson(nullptr) : ojson{{"path", output}}},
        {"documents", d}};
    m["digest"] = digest_of(m);
    return m;
}

namespace {

// The output file against the manifest's lines: each line must be one the run wrote, and each
// document must have its line. A watch writes a document's line once however often it saw it.
void check_output_file(const ojson& m, VerifyReport& rep) {
    if (!m.contains("output") || !m["output"].is_object()) {
        rep.notes.push_back("the results went to standard output: no output file to check");
        return;
    }
    const std::string path = m["output"]["path"];
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        rep.problems.push_back(path + ": cannot read the output file the manifest names");
        return;
    }
    std::map<std::string, std::string> want;  // line hash -> path
    for (const ojson& d : m["documents"]) want[d["line_sha256"].get<std::string>()] = d["path"].get<std::string>();
    std::set<std::string> seen;
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
        const std::string h = sha256_of(line);
        if (want.count(h)) {
            seen.insert(h);
            continue;
        }
        const ojson j = ojson::parse(line, nullptr, false);
        const std::string what = j.is_object() && j.contains("path") && j["path"].is_string()
                                     ? " (" + j["path"].get<std::string>() + ")"
                                     : "";
        rep.problems.push_back(path + " line " + std::to_string(n) + what +
                               ": not the line the run wrote (edited since?)");
        // The document's own line is then missing too: said once, here.
        if (j.is_object() && j.contains("sha256")) {
            for (const ojson& d : m["documents"]) {
                if (d["sha256"] == j["sha256"] && d.value("path", "") == j.value("path", ""))
                    seen.insert(d["line_sha256"].get<std::string>());
            }
        }
    }
    for (const auto& [h, p] : want) {
        if (!seen.count(h)) rep.problems.push_back(path + ": no line for " + p);
    }
}

}  // namespace

Result<VerifyReport> verify_manifest(const ojson& m, int threads, bool progress) {
    try {
        const int version = m.value("manifest_version", 0);
        if (version != 1 && version != 2) return Error{"not a Terraferma manifest (manifest_version 1 or 2)"};
        VerifyReport rep;
        if (version == 1) {
            rep.notes.push_back(
                "manifest_version 1: no digest and no output lines recorded; only the results are checked");
        } else {
            if (m.value("digest", "") != digest_of(m))
                rep.problems.push_back("the manifest was edited after the run (its digest does not match)");
            check_output_file(m, rep);
        }
        const std::string model_path = m["model"]["path"];
        const std::string want_sha = m["model"]["sha256"];
        std::ifstream mf(model_path, std::ios::binary);
        if (!mf) return Error{model_path + ": cannot open the model the manifest names"};
        auto model = model::Model::load(model_path);
        if (!model) return model.error();
        const std::string got_sha = (*model)->file->content_sha256();
        if (got_sha != want_sha) {
            rep.problems.push_back("model " + model_path + " has SHA-256 " + got_sha + ", the manifest recorded " +
                                   want_sha + ": not the model that produced these results");
            return rep;
        }
        if (m["engine"] != kEngineVersion)
            rep.problems.push_back("engine " + m["engine"].get<std::string>() + " recorded, this is " + kEngineVersion);
        TaskConfig t;
        const ojson& task = m["task"];
        t.kind = task["kind"];
        t.prompt = task["prompt"];
        t.n_ctx = task["n_ctx"];
        t.max_output_tokens = task["max_output_tokens"];
        if (task.contains("prompt_sha256") && task["prompt_sha256"] != sha256_of(t.prompt))
            rep.problems.push_back("the manifest's prompt was edited");
        if (task.contains("schema")) {
            t.schema = task["schema"];
            if (task.contains("schema_sha256") && task["schema_sha256"] != sha256_of(t.schema.dump()))
                rep.problems.push_back("the manifest's schema was edited");
        }
        if (task.contains("labels")) t.labels = task["labels"].get<std::vector<std::string>>();
        if (task.contains("words")) t.summary_words = task["words"];
        if (task.contains("kv_cache")) {  // absent in manifests written before the option: F16
            for (const auto& [field, out] : {std::pair{"k", &t.k_type}, std::pair{"v", &t.v_type}}) {
                const auto type = tensor_type_from_name(task["kv_cache"][field].get<std::string>());
                if (!type || (*type != TensorType::F16 && *type != TensorType::Q8_0))
                    return Error{"malformed manifest: task.kv_cache." + std::string(field)};
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
        size_t remote = 0, from_stdin = 0;
        for (size_t i = 0; i < docs.size(); ++i) {
            const ojson& d = docs[i];
            ++rep.documents;
            const std::string path = d["path"];
            if (path == "-") {
                ++rep.skipped;
                ++from_stdin;
                continue;
            }
            if (d.value("remote", false)) {
                // Made by another machine's model: its line is checked above, its result cannot
                // be recomputed here.
                ++rep.skipped;
                ++remote;
                continue;
            }
            auto read = read_document_bytes(path);  // a file, or an attachment out of its message
            if (!read) {
                rep.problems.push_back(path + ": cannot read it any more (" + read.error().message + ")");
                continue;
            }
            const std::string& bytes = *read;
            if (sha256_of(bytes) != d["sha256"]) {
                rep.problems.push_back(path + ": the document changed since the run");
                continue;
            }
            // Read as the run read it; the result, or the error, must come out the same.
            auto doc = read_document(path, bytes);
            Result<ojson> r = doc ? runner.run(*doc) : Result<ojson>(doc.error());
            std::string error;
            if (!r) {
                error = r.error().message;
                if (error.rfind(path + ": ", 0) == 0) error = error.substr(path.size() + 2);
            }
            const bool was_ok = d["status"] == "ok";
            if (was_ok && !r) {
                rep.problems.push_back(path + ": gave a result in the run, fails now: " + error);
            } else if (!was_ok && r) {
                rep.problems.push_back(path + ": failed in the run, gives a result now");
            } else if (was_ok &&
                       sha256_of(r->dump(-1, ' ', false, ojson::error_handler_t::replace)) != d["output_sha256"]) {
                rep.problems.push_back(path + ": the output differs from the recorded one");
            } else if (!was_ok && version >= 2 && sha256_of(error) != d["output_sha256"]) {
                rep.problems.push_back(path + ": fails with another error than in the run: " + error);
            } else {
                ++rep.identical;
            }
            bar.update(i + 1, docs.size());
        }
        bar.finish();
        if (from_stdin > 0)
            rep.notes.push_back(std::to_string(from_stdin) +
                                " documents were read from standard input: their bytes are not kept, so they cannot "
                                "be recomputed");
        if (remote > 0)
            rep.notes.push_back(std::to_string(remote) +
                                " documents were answered by a remote tier of the route: their output lines are "
                                "checked, their results cannot be recomputed here");
        return rep;
    } catch (const std::exception& e) {
        return Error{std::string("malformed manifest: ") + e.what()};
    }
}

}  // namespace tf::pipeline
