// The key/value cache of a context: one pool of cells shared by all sequences, handed out in
// pages of kPage positions. A sequence is a list of pages; copying a sequence shares its pages
// (reference-counted) and a shared page is copied before it is written, so a common prefix —
// the same system prompt for every document — is stored once. Keys and values are IEEE half
// precision (llama.cpp's default cache type) or Q8_0 blocks (half the memory; each head's row
// quantized as a weight row is), chosen apart for keys and values as llama.cpp's
// --cache-type-k/-v are.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "util/result.h"
#include "util/tensor_type.h"

namespace tf::model {

class KvCache {
  public:
    static constexpr int kPage = 32;

    // capacity: cells (positions) over all sequences; rounded up to whole pages. k_type and
    // v_type: F16 or Q8_0 (Q8_0 needs a dimension divisible by 32: see check_type).
    KvCache(int n_layer, int64_t k_dim, int64_t v_dim, int capacity, int n_seq_max, TensorType k_type = TensorType::F16,
            TensorType v_type = TensorType::F16);

    // Why `type` cannot hold rows of heads of `head_dim` elements (what = "keys"/"values").
    static Status check_type(TensorType type, int64_t head_dim, const char* what);
    TensorType k_type() const { return k_type_; }
    TensorType v_type() const { return v_type_; }

    int n_seq_max() const { return static_cast<int>(seqs_.size()); }
    int capacity() const { return n_pages_ * kPage; }
    int free_cells() const { return static_cast<int>(free_.size()) * kPage; }
    int seq_len(int seq) const { return seqs_[static_cast<size_t>(seq)].len; }

    // Makes room for positions seq_len .. new_len-1 of `seq` (pages copied if shared). Fails,
    // changing nothing, when the pool has too few free pages.
    Status grow(int seq, int new_len);
    // Forgets positions >= len (a no-op when the sequence is shorter).
    void truncate(int seq, int len);
    void clear(int seq) { truncate(seq, 0); }
    // dst becomes a copy of src (its old contents dropped); pages are shared until written.
    void copy(int src, int dst);

    // The cell holding position `pos` of `seq` (pos < seq_len after grow).
    int64_t cell(int seq, int pos) const {
        return int64_t(seqs_[static_cast<size_t>(seq)].pages[static_cast<size_t>(pos / kPage)]) * kPage + pos % kPage;
    }
    // A cell's keys/values of one layer: k_dim/v_dim elements of k_type/v_type.
    uint8_t* k(int layer, int64_t cell) { return k_[static_cast<size_t>(layer)].get() + cell * k_row_; }
    uint8_t* v(int layer, int64_t cell) { return v_[static_cast<size_t>(layer)].get() + cell * v_row_; }
    const uint8_t* k(int layer, int64_t cell) const { return k_[static_cast<size_t>(layer)].get() + cell * k_row_; }
    const uint8_t* v(int layer, int64_t cell) const { return v_[static_cast<size_t>(layer)].get() + cell * v_row_; }

    uint64_t bytes() const { return uint64_t(n_pages_) * kPage * uint64_t(k_row_ + v_row_) * k_.size(); }

  private:
    struct Seq {
        std::vector<int32_t> pages;
        int len = 0;
    };
    void release(int32_t page);
    void copy_page(int32_t from, int32_t to);

    TensorType k_type_, v_type_;
    int64_t k_row_, v_row_;  // bytes per cell and layer
    int n_pages_;
    // Uninitialised on purpose: untouched pages cost no resident memory.
    std::vector<std::unique_ptr<uint8_t[]>> k_, v_;
    std::vector<int32_t> refs_;
    std::vector<int32_t> free_;
    std::vector<Seq> seqs_;
};

}  // namespace tf::model
