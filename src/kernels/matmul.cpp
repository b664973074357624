#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/dot.h"
#include "kernels/dot_llama_cpp.h"
#include "kernels/matmul_panel.h"

namespace tf::kernels {

void quantize_activation_rows(TensorType weight, const float* x, int64_t n_tokens, int64_t n_cols, void* out,
                              ThreadPool* pool) {
    const int64_t rb = activation_row_bytes(weight, n_cols);
    auto body = [&](int64_t begin, int64_t end, int) {
        for (int64_t t = begin; t < end; ++t) {
            quantize_activations(weight, x + t * n_cols, static_cast<uint8_t*>(out) + t * rb, n_cols);
        }
    };
    if (pool != nullptr) pool->parallel_for(n_tokens, 1, body);
    else body(0, n_tokens, 0);
}

namespace {

// A matrix's work in units the threads claim: 16-row panels, or 16-row stripes of the per-row path.
struct Job {
    const WeightMatrix* w;
    float* out;
    int64_t out_stride;
    bool panels;
    int64_t units;
};

Job plan(const WeightMatrix& w, int64_t n_tokens, float* out, int64_t out_stride) {
    // Weights repacked into 16-row panels at load (any batch), or packed here panel by panel for
    // batches large enough to repay it: results bit-identical to the per-element dot() below.
    // (On-the-fly packing only for the 32-column types, whose packing is a few copies.)
    constexpr int64_t kPanelMinTokens = 4;
    const bool cheap_pack = w.type == TensorType::Q8_0 || w.type == TensorType::Q4_0;
    const bool panels = !(w.llama_cpp_order && llama_cpp_kernels(w.type, w.n_rows).gemv != nullptr) && panel_fits(w.type, w.n_cols) && has_panel_kernel(w.type) &&
                        (w.panels != nullptr || (cheap_pack && n_tokens >= kPanelMinTokens));
    return {&w, out, out_stride, panels, (w.n_rows + kPanelRows - 1) / kPanelRows};
}

// Units [begin, end) of one job.
void run_units(const Job& j, const void* activations, int64_t n_tokens, int64_t begin, int64_t end) {
    const WeightMatrix& w = *j.w;
    const int64_t wrb = static_cast<int64_t>(*tensor_row_bytes(w.type, static_cast<uint64_t>(w.n_cols)));
    const int64_t arb = activation_row_bytes(w.type, w.n_cols);
    if (j.panels) {
        const int64_t pb = panel_bytes(w.type, w.n_cols);
        thread_local std::vector<uint8_t> scratch;
        if (w.panels == nullptr && static_cast<int64_t>(scratch.size()) < pb) scratch.resize(static_cast<size_t>(pb));
        for (int64_t p = begin; p < end; ++p) {
            const int64_t r0 = p * kPanelRows;
            const int rows = static_cast<int>(std::min<int64_t>(kPanelRows, w.n_rows - r0));
            const uint8_t* panel = w.panels != nullptr ? w.panels + p * pb : scratch.data();
            if (w.panels == nullptr) pack_panel(w.type, static_cast<const uint8_t*>(w.data) + r0 * wrb, wrb, rows, w.n_cols, scratch.data());
            panel_matmul(w.type, panel, rows, w.n_cols, static_cast<const uint8_t*>(activations), arb, n_tokens, j.out + r0, j.out_stride);
        }
        return;
    }
    const LlamaCppKernels llama = w.llama_cpp_order ? llama_cpp_kernels(w.type, w.n_rows) : LlamaCppKernels{};
    const DotFn dot = llama.gemv != nullptr ? llama.gemv : dot_kernel(w.type);
    const DotFn dot4 = llama.gemm != nullptr ? llama.gemm : dot;
    const int64_t n_gemm = llama.gemv != nullptr && !w.llama_cpp_rowwise ? llama.gemm_rows(n_tokens) : 0;
    const auto* wbytes = static_cast<const uint8_t*>(w.data);
    const auto* abytes = static_cast<const uint8_t*>(activations);
    // Rows in the outer loop and tokens inside: each weight row is read from memory once and
    // reused from cache for every token of the batch.
    for (int64_t r = begin * kPanelRows; r < std::min(w.n_rows, end * kPanelRows); ++r) {
        const uint8_t* wr = wbytes + r * wrb;
        for (int64_t t = 0; t < n_tokens; ++t) j.out[t * j.out_stride + r] = (t < n_gemm ? dot4 : dot)(w.n_cols, wr, abytes + t * arb);
    }
}

void run_jobs(const Job* jobs, int count, const void* activations, int64_t n_tokens, ThreadPool* pool) {
    int64_t total = 0;
    for (int i = 0; i < count; ++i) total += jobs[i].units;
    auto body = [&](int64_t begin, int64_t end, int) {
        // [begin, end) of the concatenated units, cut at job boundaries.
        int64_t base = 0;
        for (int i = 0; i < count && begin < end; ++i) {
            const int64_t lo = std::max(begin, base), hi = std::min(end, base + jobs[i].units);
            if (lo < hi) run_units(jobs[i], activations, n_tokens, lo - base, hi - base);
            base += jobs[i].units;
        }
    };
    if (pool != nullptr) pool->parallel_for(total, 1, body);
    else body(0, total, 0);
}

}  // namespace

void matmul(const WeightMatrix& w, const void* activations, int64_t n_tokens, float* out, int64_t out_stride,
            ThreadPool* pool) {
    const Job j = plan(w, n_tokens, out, out_stride);
    run_jobs(&j, 1, activations, n_tokens, pool);
}

void matmul_group(const WeightMatrix* ws, float* const* outs, int count, const void* activations, int64_t n_tokens, ThreadPool* pool) {
    constexpr int kMax = 8;
    for (int i0 = 0; i0 < count; i0 += kMax) {
        Job jobs[kMax];
        const int n = std::min(kMax, count - i0);
        for (int i = 0; i < n; ++i) jobs[i] = plan(ws[i0 + i], n_tokens, outs[i0 + i], ws[i0 + i].n_rows);
        run_jobs(jobs, n, activations, n_tokens, pool);
    }
}

void matmul_f32(const WeightMatrix& w, const float* x, int64_t n_tokens, float* out, ThreadPool* pool) {
    std::vector<uint8_t> act(static_cast<size_t>(activation_row_bytes(w.type, w.n_cols) * n_tokens));
    quantize_activation_rows(w.type, x, n_tokens, w.n_cols, act.data(), pool);
    matmul(w, act.data(), n_tokens, out, w.n_rows, pool);
}

}  // namespace tf::kernels
