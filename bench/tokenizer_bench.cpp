// Tokenizer throughput: a 1 MB mixed text (prose, code, numbers, non-Latin scripts) through every
// vocabulary of the reference set, the pre-tokenizer alone, and the pathological 5 MB inputs.
// Run: build/release/bin/tf_tokenizer_bench [--vocab-dir DIR] (default ../shared/reference/vocab)
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string g_vocab_dir = "../shared/reference/vocab";

std::string mixed_text(size_t bytes) {
    static const char* const parts[] = {
        "The quarterly report shows revenue of 1,234,567.89 EUR, up 12.5% year over year. ",
        "Invoice no. 2024-117: total 1,234.50 EUR — due 15/03/2025. Café «Übersee» ☕ ",
        "def parse(x):\n    return {\"id\": x[0], \"items\": [i ** 2 for i in range(10)]}  # comment\n",
        "東京都の人口は約1400万人です。今日はいい天気ですね。",
        "Москва — столица России, город федерального значения. ",
        "القاهرة هي عاصمة جمهورية مصر العربية. ",
        "नमस्ते, आप कैसे हैं? ",
        "    if (a[i] != b[j] && k >= 0x7f) { ++count; }\n",
        "🚀🎉 Emoji and symbols: ±×÷ ≤≥ ∑∫ © ® ™\n\n",
    };
    std::string out;
    for (size_t i = 0; out.size() < bytes; ++i) {
        out += parts[i % (sizeof parts / sizeof parts[0])];
        out += std::to_string(i * 7919 % 100000);
        out += ' ';
    }
    out.resize(bytes);
    // Do not end inside a UTF-8 character.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    return out;
}

tf::tok::Tokenizer load(const std::string& name) {
    auto f = tf::gguf::File::open(g_vocab_dir + "/ggml-vocab-" + name + ".gguf");
    if (!f.ok()) throw std::runtime_error(f.error().message);
    auto t = tf::tok::Tokenizer::from_file(*f);
    if (!t.ok()) throw std::runtime_error(t.error().message);
    return std::move(t.value());
}

void BM_Tokenize(benchmark::State& state, std::string vocab, std::string kind) {
    tf::tok::Tokenizer t = load(vocab);
    const std::string text = kind == "mixed" ? mixed_text(1 << 20)
                             : kind == "letters" ? std::string(5 << 20, 'a')
                                                 : std::string(5 << 20, ' ');
    size_t tokens = 0;
    for (auto _ : state) {
        auto ids = t.encode(text, false);
        tokens = ids.size();
        benchmark::DoNotOptimize(ids.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
    state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_PreTokenize(benchmark::State& state, std::string pre) {
    auto p = tf::tok::PreTokenizer::create(pre);
    const std::string text = mixed_text(1 << 20);
    std::vector<std::pair<size_t, size_t>> pieces;
    for (auto _ : state) {
        pieces.clear();
        (*p)->split(text, pieces);
        benchmark::DoNotOptimize(pieces.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::string(argv[i]) == "--vocab-dir" && i + 1 < argc) {
            g_vocab_dir = argv[++i];
            continue;
        }
        args.push_back(argv[i]);
    }
    for (const char* v : {"llama-spm", "phi-3", "gpt-2", "bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "mpt",
                          "refact", "starcoder", "llama3", "qwen2"}) {
        benchmark::RegisterBenchmark((std::string("Tokenize/mixed-1MB/") + v).c_str(), BM_Tokenize, v, "mixed")
            ->Unit(benchmark::kMillisecond)->UseRealTime();
    }
    for (const char* v : {"llama3", "llama-spm", "bert-bge"}) {
        for (const char* k : {"letters", "spaces"}) {
            benchmark::RegisterBenchmark((std::string("Tokenize/") + k + "-5MB/" + v).c_str(), BM_Tokenize, v, k)
                ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
        }
    }
    for (const char* pre : {"llama-bpe", "qwen2", "gpt-2", "deepseek-llm"}) {
        benchmark::RegisterBenchmark((std::string("PreTokenize/mixed-1MB/") + pre).c_str(), BM_PreTokenize, pre)
            ->Unit(benchmark::kMillisecond)->UseRealTime();
    }
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
