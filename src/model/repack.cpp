// Repacking at load: every matrix the panel kernels handle is copied once into 16-row panels
// (the same number of bytes), and the file pages it came from are handed back to the kernel —
// token generation then streams the panels, prompt processing skips its per-call packing, and
// resident memory stays about the file's size. Results are bit-identical either way.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/convert.h"
#include "kernels/matmul_panel.h"
#include "model/model.h"
#include "util/thread_pool.h"

namespace tf::model {

namespace {

bool eligible(const TensorRef& t) {
    return t && t.dims.size() >= 2 && kernels::panel_fits(t.type, t.cols()) && kernels::has_panel_kernel(t.type);
}

// Bytes the kernel says can still be given to this process (MemAvailable), or 0 if unknown.
uint64_t available_memory() {
    FILE* f = std::fopen("/proc/meminfo", "r");
    if (f == nullptr) return 0;
    char line[256];
    uint64_t kib = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::sscanf(line, "MemAvailable: %lu kB", &kib) == 1) break;
    }
    std::fclose(f);
    return kib * 1024;
}

// Experts are repacked like any matrix (measured: Qwen3-MoE shape, 2 threads, prompt 2.8x and
// generation 1.5x faster than from the mapped file) when their copy fits comfortably — at most
// half of the memory available at load. A bigger MoE keeps them as views into the mapped file:
// tokens read only the experts they choose, the others' pages are never touched, and a model
// near the size of the machine's memory still runs. TF_REPACK_EXPERTS=1 / 0 decides instead.
bool repack_experts(const Model& m) {
    if (const char* env = std::getenv("TF_REPACK_EXPERTS"); env != nullptr && *env != 0) return std::strcmp(env, "0") != 0;
    uint64_t expert_bytes = 0;
    for (const LayerWeights& L : m.layers) {
        for (const auto* v : {&L.expert_gate, &L.expert_up, &L.expert_down}) {
            for (const TensorRef& t : *v) {
                if (eligible(t)) expert_bytes += static_cast<uint64_t>(kernels::matrix_panel_bytes(t.type, t.rows(), t.cols()));
            }
        }
    }
    if (expert_bytes == 0) return false;
    const uint64_t avail = available_memory();
    return avail != 0 && expert_bytes <= avail / 2;
}

template <typename F>
void for_each_matrix(Model& m, F f) {
    const bool experts = repack_experts(m);
    for (LayerWeights& L : m.layers) {
        for (TensorRef* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.ffn_router}) f(*t);
        if (!experts) continue;
        for (auto* v : {&L.expert_gate, &L.expert_up, &L.expert_down}) {
            for (TensorRef& t : *v) f(t);
        }
    }
    f(m.output);
}


// An output matrix tied to the embedding table is repacked like any other; the embedding
// lookups then restore their rows from the panels (embedding_row), so the file pages go too.
bool tied_to_embeddings(const Model& m, const TensorRef& t) { return m.tok_embd && t.data == m.tok_embd.data; }

}  // namespace

void repack_for_panels(Model& m) {
    const char* env = std::getenv("TF_REPACK");
    if (env != nullptr && std::strcmp(env, "0") == 0) return;
    size_t total = 0;
    for_each_matrix(m, [&](TensorRef& t) {
        if (eligible(t)) total += static_cast<size_t>(kernels::matrix_panel_bytes(t.type, t.rows(), t.cols()));
    });
    if (total == 0) return;
    // 2 MiB-aligned and marked for transparent huge pages: the panels are streamed once per
    // token; with 4 KiB pages the TLB misses cost ~10 % of token generation (measured: Q4_K_M
    // 1 thread 22.3 -> 24.8 tok/s).
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t alloc_bytes = (total + kHuge - 1) / kHuge * kHuge;
    auto* storage = static_cast<uint8_t*>(std::aligned_alloc(kHuge, alloc_bytes));
    if (storage == nullptr) return;  // no memory to spare: the kernels pack as they go
    ::madvise(storage, alloc_bytes, MADV_HUGEPAGE);  // advice only: without THP, plain pages
    m.panel_storage = {storage, [](uint8_t* p) { std::free(p); }};
    m.panel_bytes = total;
    // An embedding table that is not also a repacked output keeps its file pages.
    const uint8_t* embd_begin = m.tok_embd ? m.tok_embd.data : nullptr;
    const uint8_t* embd_end = embd_begin;
    if (m.tok_embd) embd_end += *tensor_row_bytes(m.tok_embd.type, static_cast<uint64_t>(m.tok_embd.cols())) * static_cast<uint64_t>(m.tok_embd.rows());
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    // Packing runs on every core; the file's copy of each matrix is released a slice at a time
    // as its panels are written, so peak memory stays about file + one slice.
    ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    constexpr int64_t kSlicePanels = 256;
    size_t at = 0;
    for_each_matrix(m, [&](TensorRef& t) {
        if (!eligible(t)) return;
        const int64_t rows = t.rows(), cols = t.cols();
        const int64_t rb = static_cast<int64_t>(*tensor_row_bytes(t.type, static_cast<uint64_t>(cols)));
        const int64_t pb = kernels::panel_bytes(t.type, cols);
        const int64_t n_panels = (rows + kernels::kPanelRows - 1) / kernels::kPanelRows;
        uint8_t* dst = storage + at;
        // The file's copy is no longer read (unless it doubles as an embedding table that is not
        // repacked): release its whole pages from this process (a private read-only file
        // mapping: they come back from the file if ever touched).
        const uint8_t* begin = t.data;
        const uint8_t* end = t.data + rb * rows;
        const bool shared_with_embd = !tied_to_embeddings(m, t) && embd_begin != nullptr && begin < embd_end && embd_begin < end;
        const bool release = m.file->is_mapped() && !shared_with_embd && page > 0;
        uintptr_t released = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
        for (int64_t s0 = 0; s0 < n_panels; s0 += kSlicePanels) {
            const int64_t s1 = std::min(n_panels, s0 + kSlicePanels);
            pool.parallel_for(s1 - s0, 1, [&](int64_t b, int64_t e, int) {
                for (int64_t p = s0 + b; p < s0 + e; ++p) {
                    const int64_t r0 = p * kernels::kPanelRows;
                    const int n = static_cast<int>(std::min<int64_t>(kernels::kPanelRows, rows - r0));
                    kernels::pack_panel(t.type, t.data + r0 * rb, rb, n, cols, dst + p * pb);
                }
            });
            const auto upto = reinterpret_cast<uintptr_t>(t.data + std::min(rows, s1 * kernels::kPanelRows) * rb) / page * page;
            if (release && upto > released) {
                ::madvise(reinterpret_cast<void*>(released), upto - released, MADV_DONTNEED);
                released = upto;
            }
        }
        t.panels = dst;
        if (tied_to_embeddings(m, t)) m.tok_embd.panels = dst;
        at += static_cast<size_t>(kernels::matrix_panel_bytes(t.type, rows, cols));
    });
}

void embedding_row(const TensorRef& table, int64_t row, float* out, std::vector<uint8_t>& scratch) {
    const int64_t n = table.cols();
    const uint64_t rb = *tensor_row_bytes(table.type, static_cast<uint64_t>(n));
    if (table.panels == nullptr) {
        kernels::dequantize_row(table.type, table.data + rb * static_cast<uint64_t>(row), out, n);
        return;
    }
    if (scratch.size() < rb) scratch.resize(rb);
    const uint8_t* panel = table.panels + row / kernels::kPanelRows * kernels::panel_bytes(table.type, n);
    kernels::unpack_panel_row(table.type, panel, static_cast<int>(row % kernels::kPanelRows), n, scratch.data());
    kernels::dequantize_row(table.type, scratch.data(), out, n);
}

}  // namespace tf::model
