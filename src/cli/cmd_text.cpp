// terraferma text FILE... [--json]
// Prints exactly the text the document commands would give the model for each file — after
// type detection, decoding and conversion — so a user can see what extraction works from.
// Pages (PDF) are separated by a form feed line; warnings and errors go to standard error.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/document_flags.h"
#include "pipeline/document.h"
#include "pipeline/run.h"

namespace tf::cli {

void add_text_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::vector<std::string> inputs;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand("text",
                                        "Print the text a document command would give the model for each file (type "
                                        "detected by content, encodings decoded)");
    app->add_option("inputs", a->inputs, "Documents: files, folders (walked) or - for standard input")->required();
    add_document_options(app);
    app->add_flag(
        "--json", a->json,
        "One JSON object per file: path, format, reader, sha256, pages (the text of each), warnings — or error");
    commands.push_back(
        {app, [a]() {
             auto files = pipeline::expand_inputs(a->inputs);
             if (!files) {
                 print_error("text", files.error().message);
                 return kExitFailure;
             }
             *files = pipeline::expand_documents(*files);  // e-mails' attachments after them
             int code = kExitOk;
             for (const std::string& path : *files) {
                 auto d = pipeline::load_document(path);
                 if (!d) {
                     code = kExitFailure;
                     if (a->json)
                         std::cout << nlohmann::ordered_json{{"path", path}, {"error", d.error().message}}.dump()
                                   << "\n";
                     else
                         print_error(d.error().message);
                     continue;
                 }
                 std::vector<std::string> pages;
                 for (size_t i = 0; i < d->page_starts.size(); ++i) {
                     const size_t from = d->page_starts[i],
                                  to = i + 1 < d->page_starts.size() ? d->page_starts[i + 1] : d->text.size();
                     pages.push_back(d->text.substr(from, to - from));
                 }
                 if (a->json) {
                     nlohmann::ordered_json j{
                         {"path", path},        {"format", d->kind}, {"reader", pipeline::reader_id(d->kind)},
                         {"sha256", d->sha256}, {"pages", pages},    {"warnings", d->warnings}};
                     // Per page: the OCR's confidence (0–100), or null for a page read from its text layer.
                     if (!d->page_ocr_confidence.empty()) {
                         nlohmann::ordered_json conf = nlohmann::ordered_json::array();
                         for (int c : d->page_ocr_confidence)
                             conf.push_back(c < 0 ? nlohmann::ordered_json() : nlohmann::ordered_json(c));
                         j["ocr_confidence"] = conf;
                     }
                     std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
                     continue;
                 }
                 for (const std::string& w : d->warnings) print_error(path, "warning: " + w);
                 if (files->size() > 1)
                     std::cout << "==> " << path << " (" << d->kind << ", " << pages.size()
                               << (pages.size() == 1 ? " page" : " pages") << ") <==\n";
                 for (size_t i = 0; i < pages.size(); ++i) {
                     if (i > 0) std::cout << "\f\n";
                     std::cout << pages[i];
                 }
                 if (!d->text.empty() && d->text.back() != '\n') std::cout << "\n";
             }
             std::cout.flush();
             return code;
         }});
}

}  // namespace tf::cli
