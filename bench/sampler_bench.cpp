// Sampler microbenchmarks (Google Benchmark). Run: build/release/bin/tf_sampler_bench
// One Sampler::sample() on a 128,256-token vocabulary (Llama 3's), the work done for every
// generated token after the forward pass. Logits: normal noise with a few dozen peaks, as a
// model's are; the chains: greedy, the defaults (top-k 40, top-p 0.95, min-p 0.05, temperature
// 0.8), top-p alone (no top-k: everything sorted), and the defaults under a mask allowing
// about 2 % of the vocabulary. Also token_logprob (an API request's logprobs, computed per
// generated token on top of sampling) without and with 5 alternatives.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "sampling/logprobs.h"
#include "sampling/sampler.h"
#include "util/mask_logits.h"

namespace {

constexpr int64_t kVocab = 128256;

std::vector<float> model_like_logits(uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 2.0f);
    std::vector<float> l(static_cast<size_t>(kVocab));
    for (float& v : l) v = noise(rng);
    for (int i = 0; i < 40; ++i) l[rng() % kVocab] = 12.0f + static_cast<float>(i % 7);
    return l;
}

// Allows every 50th token, as a grammar inside a JSON string roughly does, applied as grammar
// masks are (a bitset through util/mask_logits).
class EveryFiftieth : public tf::sampling::Constraint {
  public:
    EveryFiftieth() : bits_((kVocab + 63) / 64, 0) {
        for (int64_t i = 0; i < kVocab; i += 50) bits_[static_cast<size_t>(i / 64)] |= uint64_t(1) << (i % 64);
    }
    void apply(float* logits, int64_t n) override { tf::mask_logits(logits, n, bits_.data()); }
    void accept(int32_t) override {}

  private:
    std::vector<uint64_t> bits_;
};

void run(benchmark::State& state, tf::sampling::SamplingParams p, bool masked) {
    const std::vector<float> l = model_like_logits(1);
    tf::sampling::Sampler s(p, kVocab);
    if (masked) s.set_constraint(std::make_shared<EveryFiftieth>());
    for (auto _ : state) {
        auto id = s.sample(l.data());
        benchmark::DoNotOptimize(id);
    }
}

void Greedy(benchmark::State& state) {
    tf::sampling::SamplingParams p;
    p.temperature = 0.0f;
    run(state, p, false);
}

void Defaults(benchmark::State& state) { run(state, tf::sampling::SamplingParams{}, false); }

void TopPOnly(benchmark::State& state) {
    tf::sampling::SamplingParams p;
    p.top_k = 0;
    p.min_p = 0.0f;
    run(state, p, false);
}

void DefaultsMasked(benchmark::State& state) { run(state, tf::sampling::SamplingParams{}, true); }

void Logprobs(benchmark::State& state) {
    const std::vector<float> l = model_like_logits(1);
    for (auto _ : state) {
        auto lp = tf::sampling::token_logprob(l.data(), kVocab, 7, static_cast<int>(state.range(0)));
        benchmark::DoNotOptimize(lp);
    }
}

BENCHMARK(Greedy)->Unit(benchmark::kMicrosecond);
BENCHMARK(Defaults)->Unit(benchmark::kMicrosecond);
BENCHMARK(TopPOnly)->Unit(benchmark::kMicrosecond);
BENCHMARK(DefaultsMasked)->Unit(benchmark::kMicrosecond);
BENCHMARK(Logprobs)->Arg(0)->Arg(5)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
