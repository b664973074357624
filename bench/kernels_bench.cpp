// Kernel microbenchmarks (Google Benchmark). Run: build/release/bin/tf_kernels_bench
//  * MemoryRead/threads:1 — the single-thread read bandwidth that bounds matrix-vector products;
//  * Matvec/<type>/<isa> — one token through a 2048-column x 8192-row matrix (2048x8192, the FFN
//    shape of a 1B model), weights cycled through 256 MiB of copies so they stream from DRAM:
//    bytes_per_second is weight GB/s, compare it with the better of MemoryRead and
//    MemoryReadPrefetch;
//  * Matmul/<type>/<isa> — 512 tokens through a 2048x2048 matrix (prompt processing): GFLOP/s;
//  * .../<type>/panels — the same through the 16-row panel kernels (weights repacked as at load),
//    for the types that have them on this CPU.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/convert.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/matmul.h"
#include "kernels/matmul_panel.h"
#include "kernels/membw.h"

namespace {

using tf::TensorType;
using namespace tf::kernels;

const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16,   TensorType::Q8_0,
                             TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,   TensorType::Q5_1,
                             TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,   TensorType::Q5_K,
                             TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};

std::vector<uint8_t> random_matrix(TensorType t, int64_t rows, int64_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 0.02f);
    std::vector<float> row(static_cast<size_t>(cols));
    const int64_t rb = static_cast<int64_t>(*tf::tensor_row_bytes(t, static_cast<uint64_t>(cols)));
    std::vector<uint8_t> out(static_cast<size_t>(rows * rb));
    // Quantizing every row is slow for K-types; repeat a few distinct rows instead.
    const int64_t distinct = 64;
    std::vector<uint8_t> proto(static_cast<size_t>(distinct * rb));
    for (int64_t r = 0; r < distinct; ++r) {
        for (auto& v : row) v = d(rng);
        quantize_row(t, row.data(), proto.data() + r * rb, cols);
    }
    for (int64_t r = 0; r < rows; ++r) std::memcpy(out.data() + r * rb, proto.data() + (r % distinct) * rb, static_cast<size_t>(rb));
    return out;
}

// `copies` back-to-back copies of a matrix: cycling through them makes the weights stream from DRAM.
std::vector<uint8_t> repeated(const std::vector<uint8_t>& proto, size_t copies) {
    std::vector<uint8_t> pool(proto.size() * copies);
    for (size_t c = 0; c < copies; ++c) std::memcpy(pool.data() + c * proto.size(), proto.data(), proto.size());
    return pool;
}

// Plain, and with software prefetch: on a busy host the hardware prefetcher alone stays well
// below what memory delivers. The bandwidth a kernel is compared with is the better of the two.
void BM_MemoryRead(benchmark::State& state, uint64_t (*read)(const void*, size_t)) {
    const size_t bytes = size_t(512) << 20;
    std::vector<uint8_t> buf(bytes, 1);
    for (auto _ : state) benchmark::DoNotOptimize(read(buf.data(), bytes));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}
BENCHMARK_CAPTURE(BM_MemoryRead, plain, stream_read)->Name("BM_MemoryRead")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MemoryRead, prefetch, stream_read_prefetch)->Name("BM_MemoryReadPrefetch")->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Matvec(benchmark::State& state, TensorType t, Isa isa) {
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported on this CPU");
        return;
    }
    const int64_t cols = 2048, rows = 8192;
    const DotFn dot = dot_kernel(t, isa);
    const auto proto = random_matrix(t, rows, cols, 1);
    const size_t copies = std::max<size_t>(2, (size_t(256) << 20) / proto.size());
    const std::vector<uint8_t> pool = repeated(proto, copies);
    std::vector<float> x(static_cast<size_t>(cols), 0.5f);
    std::vector<uint8_t> act(static_cast<size_t>(activation_row_bytes(t, cols)));
    quantize_activations(t, x.data(), act.data(), cols);
    std::vector<float> out(static_cast<size_t>(rows));
    const int64_t rb = static_cast<int64_t>(proto.size()) / rows;
    size_t c = 0;
    for (auto _ : state) {
        const uint8_t* w = pool.data() + c * proto.size();
        for (int64_t r = 0; r < rows; ++r) out[static_cast<size_t>(r)] = dot(cols, w + r * rb, act.data());
        benchmark::DoNotOptimize(out.data());
        c = (c + 1) % copies;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(proto.size()));
}

void BM_Matmul(benchmark::State& state, TensorType t, Isa isa) {
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported on this CPU");
        return;
    }
    const int64_t cols = 2048, rows = 2048, tokens = 512;
    const DotFn dot = dot_kernel(t, isa);
    const auto w = random_matrix(t, rows, cols, 2);
    std::vector<float> x(static_cast<size_t>(cols * tokens), 0.25f);
    const int64_t arb = activation_row_bytes(t, cols);
    std::vector<uint8_t> act(static_cast<size_t>(arb * tokens));
    for (int64_t i = 0; i < tokens; ++i) quantize_activations(t, x.data() + i * cols, act.data() + i * arb, cols);
    std::vector<float> out(static_cast<size_t>(rows * tokens));
    const int64_t rb = static_cast<int64_t>(w.size()) / rows;
    for (auto _ : state) {
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t tok = 0; tok < tokens; ++tok) out[static_cast<size_t>(tok * rows + r)] = dot(cols, w.data() + r * rb, act.data() + tok * arb);
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * cols * rows * tokens * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

std::vector<uint8_t> to_panels(TensorType t, const std::vector<uint8_t>& w, int64_t rows, int64_t cols) {
    const int64_t rb = static_cast<int64_t>(w.size()) / rows, pb = panel_bytes(t, cols);
    std::vector<uint8_t> out(static_cast<size_t>(matrix_panel_bytes(t, rows, cols)));
    for (int64_t r0 = 0; r0 < rows; r0 += kPanelRows) {
        pack_panel(t, w.data() + r0 * rb, rb, static_cast<int>(std::min<int64_t>(kPanelRows, rows - r0)), cols, out.data() + r0 / kPanelRows * pb);
    }
    return out;
}

void BM_PanelMatvec(benchmark::State& state, TensorType t) {
    const int64_t cols = 2048, rows = 8192;
    const auto proto = to_panels(t, random_matrix(t, rows, cols, 1), rows, cols);
    const size_t copies = std::max<size_t>(2, (size_t(256) << 20) / proto.size());
    const std::vector<uint8_t> pool = repeated(proto, copies);
    std::vector<float> x(static_cast<size_t>(cols), 0.5f);
    std::vector<uint8_t> act(static_cast<size_t>(activation_row_bytes(t, cols)));
    quantize_activations(t, x.data(), act.data(), cols);
    std::vector<float> out(static_cast<size_t>(rows));
    size_t c = 0;
    for (auto _ : state) {
        WeightMatrix w{t, nullptr, rows, cols};
        w.panels = pool.data() + c * proto.size();
        matmul(w, act.data(), 1, out.data(), rows, nullptr);
        benchmark::DoNotOptimize(out.data());
        c = (c + 1) % copies;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(proto.size()));
}

void BM_PanelMatmul(benchmark::State& state, TensorType t) {
    const int64_t cols = 2048, rows = 2048, tokens = 512;
    const auto panels = to_panels(t, random_matrix(t, rows, cols, 2), rows, cols);
    std::vector<float> x(static_cast<size_t>(cols * tokens), 0.25f);
    const int64_t arb = activation_row_bytes(t, cols);
    std::vector<uint8_t> act(static_cast<size_t>(arb * tokens));
    for (int64_t i = 0; i < tokens; ++i) quantize_activations(t, x.data() + i * cols, act.data() + i * arb, cols);
    std::vector<float> out(static_cast<size_t>(rows * tokens));
    for (auto _ : state) {
        WeightMatrix w{t, nullptr, rows, cols};
        w.panels = panels.data();
        matmul(w, act.data(), tokens, out.data(), rows, nullptr);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * cols * rows * tokens * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// Activation quantization of a 512-token prompt through a 2048-column matrix: the scalar
// quantizer against what quantize_activations runs on this CPU (AVX-512 when present).
void BM_QuantizeActivations(benchmark::State& state, TensorType weight, bool scalar) {
    const int64_t cols = 2048, tokens = 512;
    std::vector<float> x(static_cast<size_t>(cols * tokens));
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& v : x) v = dist(rng);
    const int64_t arb = activation_row_bytes(weight, cols);
    std::vector<uint8_t> act(static_cast<size_t>(arb * tokens));
    for (auto _ : state) {
        for (int64_t t = 0; t < tokens; ++t) {
            if (scalar) quantize_row(activation_type(weight), x.data() + t * cols, act.data() + t * arb, cols);
            else quantize_activations(weight, x.data() + t * cols, act.data() + t * arb, cols);
        }
        benchmark::DoNotOptimize(act.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * cols * tokens * 4);
}
BENCHMARK_CAPTURE(BM_QuantizeActivations, q8_0_scalar, TensorType::Q8_0, true)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_QuantizeActivations, q8_0_vector, TensorType::Q8_0, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_QuantizeActivations, q8_k_scalar, TensorType::Q4_K, true)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_QuantizeActivations, q8_k_vector, TensorType::Q4_K, false)->Unit(benchmark::kMicrosecond);

const bool registered = [] {
    for (TensorType t : kTypes) {
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            std::string name = std::string(tf::tensor_type_name(t)) + "/" + isa_name(isa);
            benchmark::RegisterBenchmark(("Matvec/" + name).c_str(), BM_Matvec, t, isa)->Unit(benchmark::kMillisecond)->UseRealTime();
            benchmark::RegisterBenchmark(("Matmul/" + name).c_str(), BM_Matmul, t, isa)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
        }
    }
    for (TensorType t : kTypes) {
        if (!has_panel_kernel(t)) continue;
        const std::string name = std::string(tf::tensor_type_name(t)) + "/panels";
        benchmark::RegisterBenchmark(("Matvec/" + name).c_str(), BM_PanelMatvec, t)->Unit(benchmark::kMillisecond)->UseRealTime();
        benchmark::RegisterBenchmark(("Matmul/" + name).c_str(), BM_PanelMatmul, t)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
    return true;
}();

}  // namespace

BENCHMARK_MAIN();
