// The key/value cache of a context: one pool of cells shared by all sequences, handed out in
// pages of kPage positions. A sequence is a list of pages; copying a sequence shares its pages
// (reference-counted) and a shared page is copied before it is written, so a common prefix —
// the same system prompt for every document — is stored once. Keys and values are IEEE half
// precision (llama.cpp's default cache type) or Q8_0 blocks (half the memory; each head's row
// quantized as a weight row is), chosen apart for keys and values as llama.cpp's
// --cache-type-k/-v are.
//
// Sliding-window layers (Gemma's local layers) have page tables of their own: once a sequence
// has moved past a page by more than the window (plus `swa_extra` positions of slack), no query
// can see that page again and it goes back to the pool. Freed pages are handed out again
// before untouched ones, so those layers never hold more than about a window per sequence in
// memory, however long the sequence grows. The price: such a sequence can only be cut back
// (for prefix reuse) to where its window is still whole — see reusable().
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "util/result.h"
#include "util/tensor_type.h"

namespace tf::model {

class KvCache {
  public:
    static constexpr int kPage = 32;

    // windows: per layer, 0 when it attends to every earlier position, W when to the last W.
    // capacity: cells (positions) over all sequences; rounded up to whole pages. k_type and
    // v_type: F16 or Q8_0 (Q8_0 needs a dimension divisible by 32: see check_type). swa_extra:
    // positions a windowed layer keeps beyond its window; negative keeps every position.
    KvCache(const std::vector<uint32_t>& windows, int64_t k_dim, int64_t v_dim, int capacity, int n_seq_max,
            TensorType k_type = TensorType::F16, TensorType v_type = TensorType::F16, int swa_extra = -1);

    // Why `type` cannot hold rows of heads of `head_dim` elements (what = "keys"/"values").
    static Status check_type(TensorType type, int64_t head_dim, const char* what);
    TensorType k_type() const { return k_type_; }
    TensorType v_type() const { return v_type_; }

    int n_seq_max() const { return static_cast<int>(len_.size()); }
    int capacity() const { return n_pages_ * kPage; }
    // Cells free in every page table (what a batch can still take).
    int free_cells() const;
    int seq_len(int seq) const { return len_[static_cast<size_t>(seq)]; }

    // Makes room for positions seq_len .. new_len-1 of `seq` (pages copied if shared). Fails,
    // changing nothing, when the pool has too few free pages.
    Status grow(int seq, int new_len);
    // Forgets positions >= len (a no-op when the sequence is shorter). When the windowed layers
    // have already released positions the window before `len` needs, the whole sequence is
    // forgotten instead. Returns the length kept: min(len, seq_len) or 0.
    int truncate(int seq, int len);
    void clear(int seq) { truncate(seq, 0); }
    // The length truncate(seq, len) would keep.
    int reusable(int seq, int len) const;
    // dst becomes a copy of src (its old contents dropped); pages are shared until written.
    void copy(int src, int dst);
    // Releases the windowed layers' pages of `seq` that no later position can attend to; called
    // once the sequence's new positions have been evaluated.
    void slide(int seq);

    // The cell holding position `pos` of `seq` in `layer` (pos < seq_len after grow, and within
    // the layer's window of a position still to be evaluated).
    int64_t cell(int layer, int seq, int pos) const {
        const Table& t = tables_[group_[static_cast<size_t>(layer)]];
        return int64_t(t.pages[static_cast<size_t>(seq)][static_cast<size_t>(pos / kPage)]) * kPage + pos % kPage;
    }
    // A cell's keys/values of one layer: k_dim/v_dim elements of k_type/v_type.
    uint8_t* k(int layer, int64_t cell) { return k_[static_cast<size_t>(layer)].get() + cell * k_row_; }
    uint8_t* v(int layer, int64_t cell) { return v_[static_cast<size_t>(layer)].get() + cell * v_row_; }
    const uint8_t* k(int layer, int64_t cell) const { return k_[static_cast<size_t>(layer)].get() + cell * k_row_; }
    const uint8_t* v(int layer, int64_t cell) const { return v_[static_cast<size_t>(layer)].get() + cell * v_row_; }

    // The address space reserved (every layer can hold `capacity` cells).
    uint64_t bytes() const { return uint64_t(n_pages_) * kPage * uint64_t(k_row_ + v_row_) * k_.size(); }
    // The most memory ever written: pages are reserved untouched and a freed page is reused
    // before an untouched one, so this is the cache's share of resident memory.
    uint64_t peak_bytes() const;
    // Pages the windowed layers have released so far (a measure, for tests and stats).
    int64_t released_pages() const { return released_; }

  private:
    // The pages of one kind of layer: those attending to everything (0) or to a window (1).
    struct Table {
        std::vector<int> layers;
        std::vector<std::vector<int32_t>> pages;  // per sequence; -1 where released
        std::vector<int32_t> first;               // per sequence: pages below this are released
        std::vector<int32_t> refs;
        std::vector<int32_t> free;
        int peak = 0;  // pages in use at most
    };
    void release(Table& t, int32_t page);
    void copy_page(const Table& t, int32_t from, int32_t to);
    int32_t take(Table& t);

    TensorType k_type_, v_type_;
    int64_t k_row_, v_row_;  // bytes per cell and layer
    int n_pages_;
    uint32_t window_ = 0;  // the widest window of the windowed layers
    int swa_extra_;
    int64_t released_ = 0;
    // Uninitialised on purpose: untouched pages cost no resident memory.
    std::vector<std::unique_ptr<uint8_t[]>> k_, v_;
    std::vector<uint8_t> group_;  // per layer: its table
    std::array<Table, 2> tables_;
    std::vector<int> len_;  // per sequence
};

}  // namespace tf::model
