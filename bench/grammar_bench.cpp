// Structured-output overhead: the time to compute the allowed-token mask at each step while
// generating a realistic JSON document under its schema, on a real vocabulary.
//   grammar_bench VOCAB.gguf bench/schemas   (e.g. ../shared/reference/vocab/ggml-vocab-llama3.gguf)
// For every schema: compile time (schema → grammar → parsed), then the document is replayed
// token by token (its own canonical tokenization): mask, check the token is allowed, accept.
// Reports p50 / p99 / max microseconds per mask, per schema and over all steps: for the first
// document under a schema (cold: every grammar state is new) and for a second one sharing the
// grammar's mask cache (warm: what a server or a pipeline sees from the second request on).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "gguf/file.h"
#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "tokenizer/tokenizer.h"

using Clock = std::chrono::steady_clock;

static double us(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); }

static double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: grammar_bench VOCAB.gguf SCHEMA_DIR\n");
        return 2;
    }
    auto file = tf::gguf::File::open(argv[1]);
    if (!file) {
        std::fprintf(stderr, "%s\n", file.error().message.c_str());
        return 1;
    }
    auto tok = tf::tok::Tokenizer::from_file(*file);
    if (!tok) {
        std::fprintf(stderr, "%s\n", tok.error().message.c_str());
        return 1;
    }
    const auto t0 = Clock::now();
    auto trie = std::make_shared<const tf::grammar::TokenTrie>(*tok);
    std::printf("vocabulary: %zu tokens, trie built in %.1f ms\n", tok->vocab().size(), us(t0, Clock::now()) / 1000);
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(argv[2])) {
        if (e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<float> logits(tok->vocab().size(), 0.0f);
    std::vector<double> all, all_cold;
    std::printf("%-18s %9s %13s %7s %9s %9s %9s %9s %9s %9s\n", "schema", "compile", "tops", "tokens", "cold p50", "cold p99", "cold max",
                "warm p50", "warm p99", "warm max");
    for (const auto& f : files) {
        std::ifstream in(f);
        std::stringstream ss;
        ss << in.rdbuf();
        const auto j = nlohmann::ordered_json::parse(ss.str());
        const auto c0 = Clock::now();
        auto gbnf = tf::jsonschema::schema_to_gbnf(j["schema"]);
        if (!gbnf) {
            std::printf("%-18s %s\n", f.stem().c_str(), gbnf.error().message.c_str());
            continue;
        }
        auto g = tf::grammar::parse_gbnf(*gbnf);
        if (!g) {
            std::printf("%-18s %s\n", f.stem().c_str(), g.error().message.c_str());
            continue;
        }
        auto grammar = std::make_shared<const tf::grammar::Grammar>(std::move(g.value()));
        const double compile_ms = us(c0, Clock::now()) / 1000;
        auto cache = std::make_shared<tf::grammar::MaskCache>(grammar, trie);
        const auto p0 = Clock::now();
        const size_t tops = cache->precompute();
        const double precompute_ms = us(p0, Clock::now()) / 1000;
        const std::string text = j["instance"].dump(-1, ' ', false);
        const auto ids = tok->encode(text, false);
        std::vector<double> cold, times;
        bool ok = true;
        // The cold pass fills the grammar's shared cache; the warm one is a second document
        // under the same schema (what a server or a pipeline sees from the second request on).
        for (int pass = 0; pass < 2 && ok; ++pass) {
        tf::grammar::GrammarConstraint c(cache, tok->vocab().eog_tokens);
        std::vector<double>& out = pass == 0 ? cold : times;
        for (size_t k = 0; k < ids.size(); ++k) {
            std::fill(logits.begin(), logits.end(), 0.0f);
            const auto a = Clock::now();
            c.apply(logits.data(), static_cast<int64_t>(logits.size()));
            out.push_back(us(a, Clock::now()));
            if (std::isinf(logits[static_cast<size_t>(ids[k])])) {
                std::printf("%-18s the grammar rejects the document at token %zu ('%s')\n", f.stem().c_str(), k,
                            tok->token_to_piece(ids[k]).c_str());
                ok = false;
                break;
            }
            c.accept(ids[k]);
        }
        }
        if (!ok) continue;
        all.insert(all.end(), times.begin(), times.end());
        all_cold.insert(all_cold.end(), cold.begin(), cold.end());
        std::printf("%-18s %7.2f ms %3zu in %5.1f ms %7zu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", f.stem().c_str(), compile_ms, tops,
                    precompute_ms, ids.size(), pct(cold, 0.5), pct(cold, 0.99), pct(cold, 1.0), pct(times, 0.5), pct(times, 0.99), pct(times, 1.0));
    }
    std::printf("%-18s %9s %13s %7zu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", "all", "", "", all.size(), pct(all_cold, 0.5), pct(all_cold, 0.99),
                pct(all_cold, 1.0), pct(all, 0.5), pct(all, 0.99), pct(all, 1.0));
    return 0;
}
