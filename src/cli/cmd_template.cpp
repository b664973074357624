// terraferma template -m MODEL --messages FILE.json [--add-generation-prompt] [--tools FILE.json]
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "cli/model_argument.h"
#include "gguf/file.h"
#include "tokenizer/chat/chat_template.h"

namespace tf::cli {

namespace {

Result<nlohmann::ordered_json> read_json(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return Error{path + ": cannot read"};
    std::stringstream ss;
    ss << f.rdbuf();
    try {
        return nlohmann::ordered_json::parse(ss.str());
    } catch (const nlohmann::json::parse_error& e) {
        return Error{path + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what()};
    }
}

}  // namespace

void add_template_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::string model, messages, tools;
        bool add_generation_prompt = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* app = root.add_subcommand("template", "Render a conversation with the model's chat template, exactly");
    add_model_option(app, a->model);
    app->add_option("--messages", a->messages, "JSON file: an array of {role, content, …} messages")->required();
    app->add_option("--tools", a->tools, "JSON file: an array of tool definitions");
    app->add_flag("--add-generation-prompt", a->add_generation_prompt, "End with the header of the assistant's turn");
    app->footer("A model without tokenizer.chat_template gets ChatML: <|im_start|>ROLE\\nCONTENT<|im_end|>\\n.");
    commands.push_back({app, [a]() {
                            auto file = gguf::File::open(a->model);
                            if (!file) {
                                print_error("template", file.error().message);
                                return kExitFailure;
                            }
                            auto tmpl = chat::ChatTemplate::from_model(*file);
                            if (!tmpl) {
                                print_error("template", tmpl.error().message);
                                return kExitFailure;
                            }
                            chat::ChatRequest req;
                            auto messages = read_json(a->messages);
                            if (!messages) {
                                print_error("template", messages.error().message);
                                return kExitFailure;
                            }
                            if (!messages->is_array()) {
                                print_error("template", a->messages + ": expected a JSON array of messages");
                                return kExitFailure;
                            }
                            req.messages = *messages;
                            if (!a->tools.empty()) {
                                auto tools = read_json(a->tools);
                                if (!tools) {
                                    print_error("template", tools.error().message);
                                    return kExitFailure;
                                }
                                req.tools = *tools;
                            }
                            req.add_generation_prompt = a->add_generation_prompt;
                            auto text = tmpl->apply(req);
                            if (!text) {
                                print_error("template", text.error().message);
                                return kExitFailure;
                            }
                            std::fwrite(text->data(), 1, text->size(), stdout);
                            return kExitOk;
                        }});
}

}  // namespace tf::cli
