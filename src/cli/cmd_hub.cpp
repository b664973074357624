// Models by name: pull, list, show, rm, cp, import, export (top-level, and under `models` as
// CLI.md lists them).
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "gguf/file.h"
#include "hub/pull.h"
#include "hub/store.h"
#include "util/format.h"
#include "util/progress.h"

namespace tf::cli {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

Result<hub::ModelName> name_arg(const std::string& text) {
    return hub::parse_model_name(text);
}

Result<hub::Store> open_store() {
    return hub::Store::open();
}

int fail(const std::string& what, const std::string& why, int code = kExitFailure) {
    print_error(what, why);
    return code;
}

void add_pull(CLI::App* parent, Commands& commands) {
    struct Args {
        std::string name;
        bool insecure = false, offline = false, quiet = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = parent->add_subcommand(
        "pull",
        "Download a model into the local store: hf.co/ORG/REPO[:QUANT], ORG/REPO/FILE.gguf, or an Ollama name "
        "([REGISTRY/][NAMESPACE/]MODEL[:TAG]). HF_ENDPOINT, HF_TOKEN and proxy variables are honoured; "
        "an interrupted pull resumes");
    app->add_option("name", a->name, "Model name")->required();
    app->add_flag("--insecure", a->insecure, "Plain HTTP to an Ollama registry (a local mirror)");
    app->add_flag("--offline", a->offline, "Refuse to fetch anything (as TERRAFERMA_OFFLINE=1)");
    app->add_flag("-q,--quiet", a->quiet, "No progress");
    commands.push_back({app, [a]() {
                            auto name = name_arg(a->name);
                            if (!name) return fail("pull", name.error().message, kExitUsage);
                            if (a->offline) return fail("pull", "--offline: nothing is fetched");
                            auto store = open_store();
                            if (!store) return fail("pull", store.error().message);
                            hub::PullOptions opt;
                            opt.insecure = a->insecure;
                            std::unique_ptr<Progress> bar;
                            std::string current;
                            auto started = std::chrono::steady_clock::now();
                            auto m = hub::pull(*name, *store, opt, [&](const hub::PullEvent& e) {
                                if (a->quiet) return;
                                if (e.digest.empty()) {
                                    if (bar) bar->finish();
                                    bar.reset();
                                    if (e.status != "success") std::fprintf(stderr, "%s\n", e.status.c_str());
                                    return;
                                }
                                if (e.status != current) {
                                    current = e.status;
                                    bar = std::make_unique<Progress>(e.status, true, Progress::Off::Lines);
                                    started = std::chrono::steady_clock::now();
                                }
                                const double secs =
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
                                const double rate = secs > 0 ? static_cast<double>(e.completed) / secs / 1e6 : 0;
                                char detail[96];
                                std::snprintf(detail, sizeof detail, "%s / %s, %.0f MB/s",
                                              human_bytes(e.completed).c_str(), human_bytes(e.total).c_str(), rate);
                                bar->update(e.completed, e.total, detail);
                            });
                            if (bar) bar->finish();
                            if (!m) return fail("pull", m.error().message);
                            std::printf("%s\t%s\t%s\n", name->display().c_str(),
                                        m->files[0].digest.substr(7, 12).c_str(), human_bytes(m->total_size()).c_str());
                            return kExitOk;
                        }});
}

void add_list(CLI::App* parent, Commands& commands) {
    auto json = std::make_shared<bool>(false);
    CLI::App* app = parent->add_subcommand("list", "List the models in the local store ($TERRAFERMA_MODELS)");
    app->alias("ls");
    app->add_flag("--json", *json,
                  "One JSON object: {\"store\", \"models\": [{name, digest, size, files, source, created}]}");
    commands.push_back({app, [json]() {
                            auto store = open_store();
                            if (!store) return fail("list", store.error().message);
                            std::vector<std::string> problems;
                            auto models = store->list(&problems);
                            for (const auto& p : problems) print_error("list", p);
                            if (*json) {
                                ojson out{{"store", store->root()}, {"models", ojson::array()}};
                                for (const auto& m : models) {
                                    auto n = hub::parse_model_name(m.name);
                                    ojson files = ojson::array();
                                    for (const auto& f : m.files)
                                        files.push_back({{"name", f.name}, {"digest", f.digest}, {"size", f.size}});
                                    out["models"].push_back({{"name", n ? n->display() : m.name},
                                                             {"canonical", m.name},
                                                             {"digest", m.files[0].digest},
                                                             {"size", m.total_size()},
                                                             {"files", files},
                                                             {"source", m.source},
                                                             {"created", m.created}});
                                }
                                std::printf("%s\n", out.dump(2).c_str());
                                return kExitOk;
                            }
                            std::printf("%-56s %-14s %10s  %s\n", "NAME", "ID", "SIZE", "CREATED");
                            for (const auto& m : models) {
                                auto n = hub::parse_model_name(m.name);
                                std::printf("%-56s %-14s %10s  %s\n", (n ? n->display() : m.name).c_str(),
                                            m.files[0].digest.substr(7, 12).c_str(),
                                            human_bytes(m.total_size()).c_str(), m.created.c_str());
                            }
                            return problems.empty() ? kExitOk : kExitFailure;
                        }});
}

void add_show(CLI::App* parent, Commands& commands) {
    struct Args {
        std::string name;
        bool json = false, template_only = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = parent->add_subcommand(
        "show", "Show a stored model: files, digest, source, architecture, chat template, licence");
    app->add_option("name", a->name, "Model name")->required();
    app->add_flag("--json", a->json, "One JSON object");
    app->add_flag("--template", a->template_only, "Print only the chat template the engine renders (the GGUF's)");
    commands.push_back(
        {app, [a]() {
             auto name = name_arg(a->name);
             if (!name) return fail("show", name.error().message, kExitUsage);
             auto store = open_store();
             if (!store) return fail("show", store.error().message);
             auto m = store->find(*name);
             if (!m) return fail("show", m.error().message);
             if (!*m) return fail("show", name->display() + ": no such model in the store " + store->root());
             auto path = store->resolve(*name);
             if (!path) return fail("show", path.error().message);
             auto file = gguf::File::open(*path);
             if (!file) return fail("show", file.error().message);
             const std::string tmpl = file->get_string("tokenizer.chat_template").value_or("");
             if (a->template_only) {
                 std::fwrite(tmpl.data(), 1, tmpl.size(), stdout);
                 return kExitOk;
             }
             ojson j;
             j["name"] = name->display();
             j["canonical"] = (*m)->name;
             j["source"] = (*m)->source;
             j["created"] = (*m)->created;
             j["path"] = *path;
             j["size"] = (*m)->total_size();
             j["files"] = ojson::array();
             for (const auto& f : (*m)->files)
                 j["files"].push_back({{"name", f.name}, {"digest", f.digest}, {"size", f.size}});
             j["architecture"] = file->get_string("general.architecture").value_or("");
             j["model_name"] = file->get_string("general.name").value_or("");
             j["parameters"] = file->get_string("general.size_label").value_or("");
             j["file_type"] = file->get_int("general.file_type").value_or(-1);
             j["context_length"] = file->get_int(j["architecture"].get<std::string>() + ".context_length").value_or(0);
             j["license"] = !(*m)->license.empty() ? (*m)->license : file->get_string("general.license").value_or("");
             j["chat_template"] = tmpl;
             if (!(*m)->template_text.empty()) j["registry_template"] = (*m)->template_text;
             if (!(*m)->params_json.empty()) j["registry_params"] = (*m)->params_json;
             if (!(*m)->system.empty()) j["system"] = (*m)->system;
             if (a->json) {
                 std::printf("%s\n", j.dump(2).c_str());
                 return kExitOk;
             }
             for (const char* k : {"name", "architecture", "model_name", "parameters", "context_length", "size",
                                   "source", "created", "path"}) {
                 const auto& v = j[k];
                 std::printf("%-16s %s\n", k, v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
             }
             for (const auto& f : (*m)->files)
                 std::printf("%-16s %s  %s  %s\n", "file", f.name.c_str(), f.digest.c_str(),
                             human_bytes(f.size).c_str());
             std::string lic = j["license"];
             if (lic.size() > 200) lic = lic.substr(0, 200) + "…";
             if (!lic.empty()) std::printf("%-16s %s\n", "license", lic.c_str());
             std::printf(
                 "%-16s %s\n", "chat template",
                 tmpl.empty() ? "(none)" : (std::to_string(tmpl.size()) + " bytes (--template prints it)").c_str());
             return kExitOk;
         }});
}

void add_rm(CLI::App* parent, Commands& commands) {
    auto names = std::make_shared<std::vector<std::string>>();
    CLI::App* app = parent->add_subcommand("rm", "Remove models from the store (files no other name uses are deleted)");
    app->add_option("names", *names, "Model names")->required();
    commands.push_back({app, [names]() {
                            auto store = open_store();
                            if (!store) return fail("rm", store.error().message);
                            int rc = kExitOk;
                            for (const auto& text : *names) {
                                auto name = name_arg(text);
                                if (!name) {
                                    print_error("rm", name.error().message);
                                    rc = kExitUsage;
                                    continue;
                                }
                                auto freed = store->remove(*name);
                                if (!freed) {
                                    print_error("rm", freed.error().message);
                                    rc = kExitFailure;
                                    continue;
                                }
                                std::printf("deleted %s (%s freed)\n", name->display().c_str(),
                                            human_bytes(*freed).c_str());
                            }
                            return rc;
                        }});
}

void add_cp(CLI::App* parent, Commands& commands) {
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    CLI::App* app = parent->add_subcommand("cp", "Give a stored model a second name (no bytes are copied)");
    app->add_option("source", a->first, "Existing name")->required();
    app->add_option("destination", a->second, "New name")->required();
    commands.push_back({app, [a]() {
                            auto from = name_arg(a->first);
                            if (!from) return fail("cp", from.error().message, kExitUsage);
                            auto to = name_arg(a->second);
                            if (!to) return fail("cp", to.error().message, kExitUsage);
                            auto store = open_store();
                            if (!store) return fail("cp", store.error().message);
                            if (auto st = store->copy(*from, *to); !st) return fail("cp", st.error().message);
                            std::printf("copied %s to %s\n", from->display().c_str(), to->display().c_str());
                            return kExitOk;
                        }});
}

void add_import(CLI::App* parent, Commands& commands) {
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    CLI::App* app = parent->add_subcommand(
        "import",
        "Copy a GGUF file (the first part of a split model brings the rest) into the store under a name — for "
        "machines without network, files carried on a disk");
    app->add_option("file", a->first, "GGUF file")->required()->check(CLI::ExistingFile);
    app->add_option("--name", a->second, "Name to store it under (default: the file name without .gguf)");
    commands.push_back({app, [a]() {
                            std::string text = a->second;
                            if (text.empty()) {
                                text = fs::path(a->first).stem().string();
                                if (auto s = gguf::split_part_path(a->first, 1, 1))
                                    text = text.substr(0, text.size() - 15);
                            }
                            auto name = name_arg(text);
                            if (!name)
                                return fail("import", name.error().message + " (choose one with --name)", kExitUsage);
                            auto store = open_store();
                            if (!store) return fail("import", store.error().message);
                            Progress bar("import", true, Progress::Off::Lines);
                            auto m = store->import_file(
                                a->first, *name, [&](uint64_t d, uint64_t t) { bar.update(d, t, human_bytes(d)); });
                            bar.finish();
                            if (!m) return fail("import", m.error().message);
                            std::printf("%s\t%s\t%s\n", name->display().c_str(),
                                        m->files[0].digest.substr(7, 12).c_str(), human_bytes(m->total_size()).c_str());
                            return kExitOk;
                        }});
}

void add_export(CLI::App* parent, Commands& commands) {
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    CLI::App* app =
        parent->add_subcommand("export",
                               "Copy a stored model's GGUF file(s) to a directory, under their original names, "
                               "to carry to another machine ('import' reads them there)");
    app->add_option("name", a->first, "Model name")->required();
    app->add_option("directory", a->second, "Where to write the files")->required();
    commands.push_back(
        {app, [a]() {
             auto name = name_arg(a->first);
             if (!name) return fail("export", name.error().message, kExitUsage);
             auto store = open_store();
             if (!store) return fail("export", store.error().message);
             auto m = store->find(*name);
             if (!m) return fail("export", m.error().message);
             if (!*m) return fail("export", name->display() + ": no such model in the store " + store->root());
             std::error_code ec;
             fs::create_directories(a->second, ec);
             if (ec) return fail("export", a->second + ": " + ec.message());
             for (const auto& f : (*m)->files) {
                 const fs::path dst = fs::path(a->second) / f.name;
                 if (fs::exists(dst)) return fail("export", dst.string() + " exists; not overwritten");
                 const fs::path tmp = dst.string() + ".partial";
                 fs::copy_file(store->blob_path(f.digest), tmp, fs::copy_options::overwrite_existing, ec);
                 if (!ec) fs::rename(tmp, dst, ec);
                 if (ec) return fail("export", dst.string() + ": " + ec.message());
                 std::printf("%s\n", dst.c_str());
             }
             return kExitOk;
         }});
}

void add_all(CLI::App* parent, Commands& commands) {
    add_pull(parent, commands);
    add_list(parent, commands);
    add_show(parent, commands);
    add_rm(parent, commands);
    add_cp(parent, commands);
    add_import(parent, commands);
    add_export(parent, commands);
}

}  // namespace

void add_hub_commands(CLI::App& root, Commands& commands) {
    add_all(&root, commands);
}

void add_hub_commands_under(CLI::App* models, Commands& commands) {
    add_all(models, commands);
}

}  // namespace tf::cli
