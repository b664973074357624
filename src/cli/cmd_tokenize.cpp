// terraferma tokenize -m MODEL [--no-bos] [--parse-special] TEXT | --file F
// terraferma detokenize -m MODEL ID...
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "cli/model_argument.h"
#include "gguf/file.h"
#include "tokenizer/tokenizer.h"

namespace tf::cli {

namespace {

Result<tok::Tokenizer> load_tokenizer(const std::string& model) {
    auto file = gguf::File::open(model);
    if (!file) return file.error();
    return tok::Tokenizer::from_file(*file);
}

}  // namespace

void add_tokenize_commands(CLI::App& root, Commands& commands) {
    struct TokArgs {
        std::string model, text, file;
        bool no_bos = false, parse_special = false;
    };
    auto a = std::make_shared<TokArgs>();
    CLI::App* tk = root.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
    add_model_option(tk, a->model, "GGUF model or vocabulary file, or store name");
    tk->add_option("text", a->text, "Text to tokenize");
    tk->add_option("--file", a->file, "Read the text from this file (exact bytes)");
    tk->add_flag("--no-bos", a->no_bos, "Do not add BOS/EOS (by default as the model's metadata says)");
    tk->add_flag("--parse-special", a->parse_special,
                 "Turn special-token text such as <|im_start|> into control tokens (off: it is plain text)");
    commands.push_back({tk, [a]() {
                            std::string text = a->text;
                            if (!a->file.empty()) {
                                std::ifstream f(a->file, std::ios::binary);
                                if (!f) {
                                    print_error("tokenize", a->file + ": cannot read");
                                    return kExitFailure;
                                }
                                std::stringstream ss;
                                ss << f.rdbuf();
                                text = ss.str();
                            }
                            auto tok = load_tokenizer(a->model);
                            if (!tok) {
                                print_error("tokenize", tok.error().message);
                                return kExitFailure;
                            }
                            const auto ids = tok->encode(text, !a->no_bos, a->parse_special);
                            std::string out = "[";
                            for (size_t i = 0; i < ids.size(); ++i) {
                                if (i) out += ", ";
                                out += std::to_string(ids[i]);
                            }
                            std::printf("%s]\n", out.c_str());
                            return kExitOk;
                        }});

    struct DetokArgs {
        std::string model;
        std::vector<long long> ids;
    };
    auto d = std::make_shared<DetokArgs>();
    CLI::App* dt = root.add_subcommand("detokenize", "Print the text of token ids, exactly (no newline added)");
    add_model_option(dt, d->model, "GGUF model or vocabulary file, or store name");
    dt->add_option("ids", d->ids, "Token ids")->required();
    commands.push_back({dt, [d]() {
                            auto tok = load_tokenizer(d->model);
                            if (!tok) {
                                print_error("detokenize", tok.error().message);
                                return kExitFailure;
                            }
                            std::vector<tok::TokenId> ids;
                            for (long long id : d->ids) {
                                if (id < 0 || static_cast<size_t>(id) >= tok->vocab().size()) {
                                    print_error("detokenize", "token id " + std::to_string(id) +
                                                                  " is outside the vocabulary of " +
                                                                  std::to_string(tok->vocab().size()) + " tokens");
                                    return kExitUsage;
                                }
                                ids.push_back(static_cast<tok::TokenId>(id));
                            }
                            const std::string text = tok->decode(ids);
                            std::fwrite(text.data(), 1, text.size(), stdout);
                            return kExitOk;
                        }});
}

}  // namespace tf::cli
