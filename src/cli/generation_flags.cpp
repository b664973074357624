#include "cli/generation_flags.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "cli/model_argument.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "util/thread_pool.h"

namespace tf::cli {

void GenerationFlags::add_to(CLI::App* app, int default_n_predict) {
    n_predict = default_n_predict;
    add_model_option(app, model);
    app->add_option("-t,--threads", threads, "Threads (default: all cores)");
    app->add_option("-c,--ctx-size", ctx_size, "Context size in tokens")
        ->capture_default_str()
        ->check(CLI::Range(16, 1 << 20));
    kv.add_to(app);
    app->add_option("-n,--n-predict", n_predict, "Tokens to generate at most (-1: until the model stops)")
        ->capture_default_str();
    app->add_flag("--ignore-eos", ignore_eos, "Do not stop at end-of-generation tokens");
    app->add_flag(
        "--no-jump-forward", no_jump_forward,
        "With --grammar/--json-schema: sample every token, even where the grammar allows only one continuation");
    app->add_flag(
        "--no-close-at-limit", no_close_at_limit,
        "With --grammar/--json-schema: do not steer the output to close before -n runs out (it may end cut open)");
    app->add_option("--stop", stop, "Stop before this text (repeatable)");
    app->add_option("--temp", sampling.temperature, "Temperature (0: greedy)")->capture_default_str();
    app->add_option("--top-k", sampling.top_k, "Top-k (0: off)")->capture_default_str();
    app->add_option("--top-p", sampling.top_p, "Top-p (1: off)")->capture_default_str();
    app->add_option("--min-p", sampling.min_p, "Min-p (0: off)")->capture_default_str();
    app->add_option("--typical", sampling.typical_p, "Locally typical sampling p (1: off)")->capture_default_str();
    app->add_option("--repeat-penalty", sampling.repeat_penalty, "Repetition penalty (1: off)")->capture_default_str();
    app->add_option("--repeat-last-n", sampling.repeat_last_n, "Tokens the penalties look back (-1: all)")
        ->capture_default_str();
    app->add_option("--presence-penalty", sampling.presence_penalty, "Presence penalty")->capture_default_str();
    app->add_option("--frequency-penalty", sampling.frequency_penalty, "Frequency penalty")->capture_default_str();
    app->add_option("--logit-bias", logit_bias, "Add BIAS to token ID's logit: ID=BIAS or ID=-inf (repeatable)");
    app->add_option("--grammar", grammar_file, "Constrain the output to this GBNF grammar (file)");
    app->add_option("--json-schema", json_schema_file,
                    "Constrain the output to JSON valid against this JSON Schema (file)")
        ->excludes(app->get_option("--grammar"));
    app->add_flag("--json-whitespace", flexible_whitespace,
                  "Allow optional whitespace in --json-schema output (default: compact)");
    app->add_flag(
        "--open-objects", open_objects,
        "With --json-schema: where a schema does not set additionalProperties, allow properties it does not list, "
        "as JSON Schema reads it (default: only the listed ones)");
    app->add_flag("--ignore-unsupported-keywords", ignore_unsupported,
                  "Ignore JSON Schema keywords the grammar cannot express (with a warning) instead of failing");
    app->add_flag("--strict-schema", strict_schema,
                  "With --json-schema: refuse a schema the grammar cannot guarantee by itself (OpenAI's strict: true), "
                  "naming the keyword; "
                  "without it such keywords are checked after generation and a violating answer exits 1")
        ->excludes(app->get_option("--ignore-unsupported-keywords"));
    app->add_option("-s,--seed", sampling.seed, "Random seed (same seed, same output)")->capture_default_str();
}

int GenerationFlags::thread_count() const {
    return threads > 0 ? threads : ThreadPool::default_threads();
}

Result<engine::GenerateOptions> GenerationFlags::options(int64_t n_vocab) const {
    engine::GenerateOptions o;
    o.max_tokens = n_predict;
    o.ignore_eos = ignore_eos;
    o.jump_forward = !no_jump_forward;
    o.finish_within_limit = !no_close_at_limit;
    o.stop = stop;
    o.sampling = sampling;
    for (const std::string& b : logit_bias) {
        const size_t eq = b.find('=');
        try {
            if (eq == std::string::npos) throw std::invalid_argument(b);
            const int32_t id = static_cast<int32_t>(std::stol(b.substr(0, eq)));
            const std::string v = b.substr(eq + 1);
            const float bias = v == "-inf" ? -INFINITY : std::stof(v);
            o.sampling.logit_bias.push_back({id, bias});
        } catch (const std::exception&) {
            return Error{"--logit-bias: '" + b + "' is not ID=BIAS"};
        }
    }
    if (Status st = o.sampling.validate(n_vocab); !st) return st.error();
    return o;
}

Result<model::ContextOptions> GenerationFlags::context_options(const model::Model& m) const {
    model::ContextOptions co;
    co.n_ctx = ctx_size;
    co.n_threads = thread_count();
    if (Status st = kv.apply(m, co); !st) return st.error();
    return co;
}

Result<std::shared_ptr<const engine::OutputContract>> GenerationFlags::contract(const tok::Tokenizer& tokenizer) const {
    const std::string& file = grammar_file.empty() ? json_schema_file : grammar_file;
    if (file.empty()) return std::shared_ptr<const engine::OutputContract>();
    std::ifstream f(file, std::ios::binary);
    if (!f) return Error{file + ": cannot open"};
    std::stringstream ss;
    ss << f.rdbuf();
    const engine::Vocabulary vocab{std::make_shared<const grammar::TokenTrie>(tokenizer), tokenizer.vocab().eog_tokens};
    if (json_schema_file.empty()) {
        auto c = engine::OutputContract::gbnf(ss.str(), vocab);
        if (!c) return Error{file + ": " + c.error().message};
        return c;
    }
    auto schema = nlohmann::ordered_json::parse(ss.str(), nullptr, false);
    if (schema.is_discarded()) return Error{file + ": not valid JSON"};
    engine::ContractOptions o;
    o.flexible_whitespace = flexible_whitespace;
    o.ignore_unsupported = ignore_unsupported;
    o.open_objects = open_objects;
    o.strict = strict_schema;
    o.warn = [&](const std::string& w) {
        std::fprintf(stderr, "terraferma: warning: %s: %s\n", file.c_str(), w.c_str());
    };
    auto c = engine::OutputContract::json_schema(schema, o, vocab);
    if (!c) return Error{file + ": " + c.error().message};
    return c;
}

Result<LoadedModel> load_model_and_tokenizer(const std::string& path) {
    auto model = model::Model::load(path);
    if (!model) return model.error();
    auto tok = tok::Tokenizer::from_file(*(*model)->file);
    if (!tok) return tok.error();
    LoadedModel out;
    out.model = std::move(model.value());
    out.tokenizer = std::make_unique<tok::Tokenizer>(std::move(tok.value()));
    return out;
}

}  // namespace tf::cli
