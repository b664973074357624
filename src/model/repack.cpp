// Repacking at load: every matrix the panel kernels handle is copied once into 16-row panels
// (the same number of bytes), and the file pages it came from are handed back to the kernel —
// token generation then streams the panels, prompt processing skips its per-call packing, and
// resident memory stays about the file's size. Results are bit-identical either way.
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/matmul_panel.h"
#include "model/model.h"

namespace tf::model {

namespace {

template <typename F>
void for_each_matrix(Model& m, F f) {
    for (LayerWeights& L : m.layers) {
        for (TensorRef* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.ffn_router}) f(*t);
        for (auto* v : {&L.expert_gate, &L.expert_up, &L.expert_down}) {
            for (TensorRef& t : *v) f(t);
        }
    }
    f(m.output);
}

bool eligible(const TensorRef& t) {
    return t && t.dims.size() >= 2 && t.cols() % 32 == 0 && kernels::has_panel_kernel(t.type);
}

// An output matrix tied to the embedding table stays a view: its file pages stay needed for
// the embedding lookups, so a repacked copy would double its memory.
bool tied_to_embeddings(const Model& m, const TensorRef& t) { return m.tok_embd && t.data == m.tok_embd.data; }

}  // namespace

void repack_for_panels(Model& m) {
    const char* env = std::getenv("TF_REPACK");
    if (env != nullptr && std::strcmp(env, "0") == 0) return;
    size_t total = 0;
    for_each_matrix(m, [&](TensorRef& t) {
        if (eligible(t) && !tied_to_embeddings(m, t)) total += static_cast<size_t>(kernels::matrix_panel_bytes(t.type, t.rows(), t.cols()));
    });
    if (total == 0) return;
    auto* storage = static_cast<uint8_t*>(std::aligned_alloc(64, (total + 63) / 64 * 64));
    if (storage == nullptr) return;  // no memory to spare: the kernels pack as they go
    m.panel_storage = {storage, [](uint8_t* p) { std::free(p); }};
    m.panel_bytes = total;
    const uint8_t* embd_begin = m.tok_embd ? m.tok_embd.data : nullptr;
    const uint8_t* embd_end = embd_begin;
    if (m.tok_embd) embd_end += *tensor_row_bytes(m.tok_embd.type, static_cast<uint64_t>(m.tok_embd.cols())) * static_cast<uint64_t>(m.tok_embd.rows());
    const long page = ::sysconf(_SC_PAGESIZE);
    size_t at = 0;
    for_each_matrix(m, [&](TensorRef& t) {
        if (!eligible(t) || tied_to_embeddings(m, t)) return;
        const int64_t rows = t.rows(), cols = t.cols();
        const int64_t rb = static_cast<int64_t>(*tensor_row_bytes(t.type, static_cast<uint64_t>(cols)));
        const int64_t pb = kernels::panel_bytes(t.type, cols);
        uint8_t* dst = storage + at;
        for (int64_t r0 = 0, p = 0; r0 < rows; r0 += kernels::kPanelRows, ++p) {
            const int n = static_cast<int>(std::min<int64_t>(kernels::kPanelRows, rows - r0));
            kernels::pack_panel(t.type, t.data + r0 * rb, rb, n, cols, dst + p * pb);
        }
        t.panels = dst;
        at += static_cast<size_t>(kernels::matrix_panel_bytes(t.type, rows, cols));
        // The file's copy is no longer read (unless it doubles as the embedding table): release
        // its whole pages from this process (a private read-only file mapping: they come back from
        // the file if ever touched).
        const uint8_t* begin = t.data;
        const uint8_t* end = t.data + rb * rows;
        const bool shared_with_embd = embd_begin != nullptr && begin < embd_end && embd_begin < end;
        if (m.file->is_mapped() && !shared_with_embd && page > 0) {
            const auto lo = (reinterpret_cast<uintptr_t>(begin) + static_cast<uintptr_t>(page) - 1) / static_cast<uintptr_t>(page) * static_cast<uintptr_t>(page);
            const auto hi = reinterpret_cast<uintptr_t>(end) / static_cast<uintptr_t>(page) * static_cast<uintptr_t>(page);
            if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
        }
    });
}

}  // namespace tf::model
