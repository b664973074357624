// The key/value cache of a context: one pool of cells shared by all sequences, handed out in
// pages of kPage positions. A sequence is a list of pages; copying a sequence shares its pages
// (reference-counted) and a shared page is copied before it is written, so a common prefix —
// the same system prompt for every document — is stored once. Keys and values are IEEE half
// precision (llama.cpp's default cache type).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "util/result.h"

namespace tf::model {

class KvCache {
  public:
    static constexpr int kPage = 32;

    // capacity: cells (positions) over all sequences; rounded up to whole pages.
    KvCache(int n_layer, int64_t k_dim, int64_t v_dim, int capacity, int n_seq_max);

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
    uint16_t* k(int layer, int64_t cell) { return k_[static_cast<size_t>(layer)].get() + cell * k_dim_; }
    uint16_t* v(int layer, int64_t cell) { return v_[static_cast<size_t>(layer)].get() + cell * v_dim_; }
    const uint16_t* k(int layer, int64_t cell) const { return k_[static_cast<size_t>(layer)].get() + cell * k_dim_; }
    const uint16_t* v(int layer, int64_t cell) const { return v_[static_cast<size_t>(layer)].get() + cell * v_dim_; }

    uint64_t bytes() const { return uint64_t(n_pages_) * kPage * uint64_t(k_dim_ + v_dim_) * 2 * k_.size(); }

  private:
    struct Seq {
        std::vector<int32_t> pages;
        int len = 0;
    };
    void release(int32_t page);
    void copy_page(int32_t from, int32_t to);

    int64_t k_dim_, v_dim_;
    int n_pages_;
    // Uninitialised on purpose: untouched pages cost no resident memory.
    std::vector<std::unique_ptr<uint16_t[]>> k_, v_;
    std::vector<int32_t> refs_;
    std::vector<int32_t> free_;
    std::vector<Seq> seqs_;
};

}  // namespace tf::model
