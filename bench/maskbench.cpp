// JSONSchemaBench / MaskBench (../shared/peer-tests/jsonschemabench): 11,305 real-world schemas
// with valid and invalid instances, scored the way the upstream benchmark scores LLGuidance,
// XGrammar, llama.cpp and Outlines. Per schema: it compiles (schema → GBNF → grammar) or is
// refused with an error ("compile error": honest); every valid instance, serialized compactly,
// is accepted by the grammar (else "validation error"); every invalid instance is rejected (else
// "invalidation error": the grammar lets through what the schema forbids). Also our validator's
// verdicts against the same labels, and with --vocab the mask times: the first mask after
// compiling (TTFM, compile included) and the masks between tokens (TBM) over the valid
// instances' tokens, each schema with a cold mask cache, as the upstream benchmark measures.
// --open-objects reads an absent additionalProperties as the specification does (see
// jsonschema::GrammarOptions). --precompute classifies the grammar's expensive mask tops at compile time, as `serve`
// and the pipeline do (TTFM then includes it).
//   zstd -dc ../shared/peer-tests/jsonschemabench/maskbench.jsonl.zst | maskbench [--vocab V.gguf [--precompute]]
//   [--threads N] [--details FILE]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gguf/file.h"
#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/matcher.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "sampling/jsonschema/validator.h"
#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

double us(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
}

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

enum class Status { Pass, CompileError, ValidationError, InvalidationError };

struct Outcome {
    std::string id;
    Status status = Status::Pass;
    std::string error;              // the compile error, or the first instance the grammar got wrong
    bool invalid_accepted = false;  // also counted when a validation error decides the status
    size_t valid = 0, valid_accepted = 0, invalid = 0, invalid_rejected = 0;
    size_t validator_agrees = 0, validator_tests = 0;
    bool validator_compiled = false;
    double compile_us = 0, first_mask_us = 0;
    std::vector<double> mask_us;  // TBM samples
    bool mask_rejected = false;   // a valid instance's token the mask forbade (a mask/matcher disagreement)
    std::vector<std::string>
        let_through;  // for each invalid instance accepted: the keywords our validator faults it on
};

// The kind of a compile error, for the summary: the message without where it happened, the
// keyword or format kept, other quoted text and offsets left out.
std::string error_kind(std::string e) {
    if (e.rfind("json schema: ", 0) == 0) e.erase(0, 13);
    if (size_t at = e.find(" (at "); at != std::string::npos) e.erase(at);
    // "keyword 'not' is not supported": the name is the kind; elsewhere quoted text is detail.
    const bool keeps_first = e.rfind("keyword '", 0) == 0 || e.rfind("format '", 0) == 0;
    std::string k;
    int quote = 0;  // quotes seen
    for (char c : e) {
        if (c == '\'') {
            ++quote;
            if (keeps_first && quote <= 2)
                k += c;
            else if (quote % 2 == 1)
                k += "'…'";
            continue;
        }
        const bool inside = quote % 2 == 1;
        if (inside && !(keeps_first && quote == 1)) continue;
        k += (c >= '0' && c <= '9') ? '#' : c;
    }
    return k.size() > 90 ? k.substr(0, 90) : k;
}

struct Vocab {
    std::shared_ptr<const tf::tok::Tokenizer> tok;
    std::shared_ptr<const tf::grammar::TokenTrie> trie;
    bool precompute = false;
};

bool g_open_objects = false;
// --strict: a schema with a gap (a keyword the grammar does not hold exactly) is refused, as
// `--strict-schema` and OpenAI's strict: true refuse it.
bool g_strict = false;
// --upstream: as the upstream harness runs: flexible whitespace in the grammar, instances
// serialized as Python's json.dumps does (", " and ": ", ASCII escapes), and a schema's status
// decided by its last failing instance.
bool g_upstream = false;

// json.dumps(x) with Python's defaults.
std::string py_dumps(const json& j) {
    if (j.is_object()) {
        std::string s = "{";
        bool first = true;
        for (auto it = j.begin(); it != j.end(); ++it) {
            s += (first ? "" : ", ") + json(it.key()).dump(-1, ' ', true, json::error_handler_t::replace) + ": " +
                 py_dumps(*it);
            first = false;
        }
        return s + "}";
    }
    if (j.is_array()) {
        std::string s = "[";
        for (size_t i = 0; i < j.size(); ++i) s += (i ? ", " : "") + py_dumps(j[i]);
        return s + "]";
    }
    return j.dump(-1, ' ', true, json::error_handler_t::replace);
}

Outcome run_schema(const json& row, const Vocab* vocab) {
    Outcome o;
    o.id = row.value("id", std::string("?"));
    const json& schema = row.contains("schema") ? row["schema"] : json();
    static const json kNoTests = json::array();
    const json& tests = row.contains("tests") && row["tests"].is_array() ? row["tests"] : kNoTests;

    // Formats asserted: the benchmark's labels treat a malformed date as invalid.
    tf::jsonschema::ValidatorOptions vo;
    vo.assert_formats = true;
    auto validator = tf::jsonschema::Validator::compile(schema, vo);
    if (auto& v = validator) {
        o.validator_compiled = true;
        for (const auto& t : tests) {
            o.validator_tests++;
            o.validator_agrees += v->valid(t["data"]) == t.value("valid", false);
        }
    }

    const auto c0 = Clock::now();
    tf::jsonschema::GrammarOptions go;
    go.open_objects = g_open_objects;
    go.flexible_whitespace = g_upstream;
    std::vector<tf::jsonschema::SchemaGap> gaps;
    go.gap = [&](const tf::jsonschema::SchemaGap& g) { gaps.push_back(g); };
    auto text = tf::jsonschema::schema_to_gbnf(schema, go);
    if (!text) {
        o.status = Status::CompileError;
        o.error = text.error().message;
        return o;
    }
    if (g_strict && !gaps.empty()) {
        o.status = Status::CompileError;
        o.error = "strict: keyword '" + gaps[0].keyword + "' cannot be guaranteed";
        return o;
    }
    auto g = tf::grammar::parse_gbnf(*text);
    if (!g) {
        o.status = Status::CompileError;
        o.error = "grammar: " + g.error().message;
        return o;
    }
    auto grammar = std::make_shared<const tf::grammar::Grammar>(std::move(g.value()));
    o.compile_us = us(c0, Clock::now());

    std::vector<std::string> replay;  // the valid instances the grammar accepts, for the mask times
    Status last_failure = Status::Pass;
    for (const auto& t : tests) {
        const bool valid = t.value("valid", false);
        const std::string doc =
            g_upstream ? py_dumps(t["data"]) : t["data"].dump(-1, ' ', false, json::error_handler_t::replace);
        tf::grammar::Matcher m(grammar);
        const bool accepted = m.accept(doc) && m.can_end();
        if (valid) {
            o.valid++;
            o.valid_accepted += accepted;
            if (accepted) replay.push_back(doc);
            if (!accepted && o.error.empty()) o.error = "refuses valid " + doc.substr(0, 300);
            if (!accepted) last_failure = Status::ValidationError;
        } else {
            o.invalid++;
            o.invalid_rejected += !accepted;
            if (accepted) {
                o.invalid_accepted = true;
                std::string kws;
                if (validator) {
                    for (const auto& e : validator->validate(t["data"])) kws += (kws.empty() ? "" : ",") + e.keyword;
                }
                o.let_through.push_back(kws.empty() ? "(validator finds nothing)" : kws);
            }
            if (accepted && o.error.empty()) o.error = "accepts invalid " + doc.substr(0, 300);
            if (accepted) last_failure = Status::InvalidationError;
        }
    }
    if (g_upstream)
        o.status = last_failure;
    else if (o.valid_accepted < o.valid)
        o.status = Status::ValidationError;
    else if (o.invalid_rejected < o.invalid)
        o.status = Status::InvalidationError;

    if (vocab != nullptr) {
        // A cold cache per schema: the first mask, then one per token of each valid instance
        // the grammar accepts (the cache warms up over a schema's instances, as it would over
        // a server's requests).
        auto cache = std::make_shared<tf::grammar::MaskCache>(grammar, vocab->trie);
        if (vocab->precompute) {
            const auto p0 = Clock::now();
            cache->precompute();
            o.compile_us += us(p0, Clock::now());
        }
        const int64_t n_vocab = static_cast<int64_t>(vocab->trie->n_tokens());
        std::vector<float> logits(static_cast<size_t>(n_vocab));
        bool first = true;
        for (const std::string& doc : replay) {
            tf::grammar::GrammarConstraint c(cache, vocab->tok->vocab().eog_tokens);
            const auto ids = vocab->tok->encode(doc, false);
            for (int32_t id : ids) {
                std::fill(logits.begin(), logits.end(), 0.0f);
                const auto a = Clock::now();
                c.apply(logits.data(), n_vocab);
                const double t_us = us(a, Clock::now());
                if (first)
                    o.first_mask_us = o.compile_us + t_us, first = false;
                else
                    o.mask_us.push_back(t_us);
                if (std::isinf(logits[static_cast<size_t>(id)])) {
                    o.mask_rejected = true;
                    break;
                }
                c.accept(id);
            }
        }
        if (first) {  // no instance to replay: the first mask alone
            tf::grammar::GrammarConstraint c(cache, vocab->tok->vocab().eog_tokens);
            const auto a = Clock::now();
            c.apply(logits.data(), n_vocab);
            o.first_mask_us = o.compile_us + us(a, Clock::now());
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    std::string vocab_path, details_path;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    size_t limit = SIZE_MAX;
    bool precompute = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "maskbench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--vocab")
            vocab_path = next();
        else if (a == "--threads")
            threads = static_cast<unsigned>(std::max(1, std::atoi(next().c_str())));
        else if (a == "--details")
            details_path = next();
        else if (a == "--precompute")
            precompute = true;
        else if (a == "--open-objects")
            g_open_objects = true;
        else if (a == "--strict")
            g_strict = true;
        else if (a == "--upstream")
            g_upstream = true;
        else if (a == "--limit")
            limit = static_cast<size_t>(std::max(0L, std::atol(next().c_str())));
        else {
            std::fprintf(stderr,
                         "usage: zstd -dc maskbench.jsonl.zst | maskbench [--open-objects] [--strict] [--upstream] "
                         "[--vocab V.gguf [--precompute]] [--threads N] [--limit N] [--details FILE]\n");
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    std::unique_ptr<Vocab> vocab;
    if (!vocab_path.empty()) {
        auto file = tf::gguf::File::open(vocab_path);
        if (!file) {
            std::fprintf(stderr, "maskbench: %s\n", file.error().message.c_str());
            return 1;
        }
        auto tok = tf::tok::Tokenizer::from_file(*file);
        if (!tok) {
            std::fprintf(stderr, "maskbench: %s\n", tok.error().message.c_str());
            return 1;
        }
        vocab = std::make_unique<Vocab>();
        vocab->tok = std::make_shared<const tf::tok::Tokenizer>(std::move(tok.value()));
        vocab->trie = std::make_shared<const tf::grammar::TokenTrie>(*vocab->tok);
        vocab->precompute = precompute;
    }

    std::vector<std::string> lines;
    for (std::string line; lines.size() < limit && std::getline(std::cin, line);) {
        if (!line.empty()) lines.push_back(std::move(line));
    }
    std::vector<Outcome> out(lines.size());
    std::atomic<size_t> next{0}, done{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (size_t i; (i = next++) < lines.size();) {
                const json row = json::parse(lines[i], nullptr, false);
                if (row.is_discarded()) {
                    out[i].id = "line " + std::to_string(i + 1);
                    out[i].status = Status::CompileError;
                    out[i].error = "not JSON";
                } else {
                    try {
                        out[i] = run_schema(row, vocab.get());
                    } catch (const std::exception& e) {  // counted as a crash, never hidden
                        out[i].id = row.value("id", std::string("?"));
                        out[i].status = Status::CompileError;
                        out[i].error = std::string("CRASH: exception: ") + e.what();
                    }
                }
                const size_t d = ++done;
                if (d % 500 == 0) std::fprintf(stderr, "\r%zu / %zu schemas", d, lines.size());
            }
        });
    }
    for (auto& t : pool) t.join();
    std::fprintf(stderr, "\r%zu schemas in %.1f s\n", lines.size(), us(t0, Clock::now()) / 1e6);

    size_t pass = 0, compile_err = 0, validation_err = 0, invalidation_err = 0, any_invalid_accepted = 0, crashes = 0;
    size_t valid = 0, valid_accepted = 0, invalid = 0, invalid_rejected = 0, v_tests = 0, v_agree = 0, v_compiled = 0,
           mask_rejected = 0;
    std::map<std::string, size_t> kinds, let_through;
    std::vector<double> compile_us, first_mask_us, mask_us;
    for (const Outcome& o : out) {
        switch (o.status) {
            case Status::Pass:
                ++pass;
                break;
            case Status::CompileError:
                ++compile_err;
                ++kinds[error_kind(o.error)];
                crashes += o.error.rfind("CRASH", 0) == 0;
                break;
            case Status::ValidationError:
                ++validation_err;
                break;
            case Status::InvalidationError:
                ++invalidation_err;
                break;
        }
        any_invalid_accepted += o.invalid_accepted;
        for (const std::string& k : o.let_through) ++let_through[k];
        valid += o.valid, valid_accepted += o.valid_accepted, invalid += o.invalid,
            invalid_rejected += o.invalid_rejected;
        v_tests += o.validator_tests, v_agree += o.validator_agrees, v_compiled += o.validator_compiled;
        mask_rejected += o.mask_rejected;
        if (o.status != Status::CompileError) {
            compile_us.push_back(o.compile_us);
            if (vocab) first_mask_us.push_back(o.first_mask_us);
            mask_us.insert(mask_us.end(), o.mask_us.begin(), o.mask_us.end());
        }
    }
    const size_t n = out.size();
    std::printf("schemas                      %zu\n", n);
    std::printf("passing                      %zu (%.1f %%)\n", pass, 100.0 * pass / std::max<size_t>(n, 1));
    std::printf("compile errors               %zu (crashes among them: %zu)\n", compile_err, crashes);
    std::printf("validation errors            %zu   (a valid instance refused)\n", validation_err);
    std::printf(
        "invalidation errors          %zu   (an invalid instance accepted; %zu schemas with one, counting those with a "
        "validation error too)\n",
        invalidation_err, any_invalid_accepted);
    std::printf("instances, compiled schemas  valid accepted %zu / %zu, invalid rejected %zu / %zu\n", valid_accepted,
                valid, invalid_rejected, invalid);
    std::printf("validator                    compiles %zu / %zu schemas; agrees with %zu / %zu labels (%.2f %%)\n",
                v_compiled, n, v_agree, v_tests, 100.0 * v_agree / std::max<size_t>(v_tests, 1));
    std::printf("compile time (µs)            p50 %.0f  p99 %.0f  max %.0f\n", pct(compile_us, 0.5),
                pct(compile_us, 0.99), pct(compile_us, 1.0));
    if (vocab) {
        double sum = 0;
        for (double v : mask_us) sum += v;
        std::printf("first mask, TTFM (µs)        p50 %.0f  p99 %.0f  max %.0f\n", pct(first_mask_us, 0.5),
                    pct(first_mask_us, 0.99), pct(first_mask_us, 1.0));
        std::printf(
            "mask per token, TBM (µs)     avg %.1f  p50 %.1f  p99 %.1f  max %.0f   (%zu masks; %zu schemas where a "
            "mask forbade a valid instance's token)\n",
            mask_us.empty() ? 0.0 : sum / static_cast<double>(mask_us.size()), pct(mask_us, 0.5), pct(mask_us, 0.99),
            pct(mask_us, 1.0), mask_us.size(), mask_rejected);
    }
    std::vector<std::pair<size_t, std::string>> by_count;
    for (const auto& [k, c] : kinds) by_count.emplace_back(c, k);
    std::sort(by_count.rbegin(), by_count.rend());
    std::printf("compile errors by kind:\n");
    for (size_t i = 0; i < by_count.size() && i < 25; ++i)
        std::printf("  %6zu  %s\n", by_count[i].first, by_count[i].second.c_str());
    std::printf("invalid instances accepted, by the keywords our validator faults them on:\n");
    for (const auto& [k, c] : let_through) std::printf("  %6zu  %s\n", c, k.c_str());
    if (!details_path.empty()) {
        std::ofstream d(details_path);
        for (const Outcome& o : out) {
            static const char* names[] = {"pass", "compile-error", "validation-error", "invalidation-error"};
            d << names[static_cast<int>(o.status)] << '\t' << o.id << '\t' << static_cast<long>(o.compile_us) << '\t'
              << o.error;
            for (const std::string& k : o.let_through) d << "\tlet through: " << k;
            d << '\n';
        }
    }
    return 0;
}
