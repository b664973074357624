#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/blocks.h"

namespace tf::model {

namespace {

int64_t row_bytes(TensorType type, int64_t dim) { return type == TensorType::Q8_0 ? dim / 32 * int64_t(sizeof(kernels::BlockQ8_0)) : 2 * dim; }

}  // namespace

Status KvCache::check_type(TensorType type, int64_t head_dim, const char* what) {
    if (type != TensorType::F16 && type != TensorType::Q8_0) {
        return Error{std::string("the KV cache cannot store ") + what + " as " + std::string(tensor_type_name(type)) + " (f16 or q8_0)"};
    }
    if (type == TensorType::Q8_0 && head_dim % 32 != 0) {
        return Error{std::string("a q8_0 KV cache needs heads whose size divides by 32; this model's ") + what + " have " +
                     std::to_string(head_dim) + " per head (use f16)"};
    }
    return Status::success();
}

KvCache::KvCache(int n_layer, int64_t k_dim, int64_t v_dim, int capacity, int n_seq_max, TensorType k_type, TensorType v_type)
    : k_type_(k_type),
      v_type_(v_type),
      k_row_(row_bytes(k_type, k_dim)),
      v_row_(row_bytes(v_type, v_dim)),
      n_pages_((std::max(capacity, 1) + kPage - 1) / kPage) {
    const size_t cells = size_t(n_pages_) * kPage;
    for (int l = 0; l < n_layer; ++l) {
        k_.emplace_back(new uint8_t[cells * static_cast<size_t>(k_row_)]);
        v_.emplace_back(new uint8_t[cells * static_cast<size_t>(v_row_)]);
    }
    refs_.assign(static_cast<size_t>(n_pages_), 0);
    // Handed out lowest first, so a lone sequence fills the pool in order.
    for (int32_t p = n_pages_ - 1; p >= 0; --p) free_.push_back(p);
    seqs_.resize(static_cast<size_t>(std::max(n_seq_max, 1)));
}

void KvCache::release(int32_t page) {
    if (--refs_[static_cast<size_t>(page)] == 0) free_.push_back(page);
}

void KvCache::copy_page(int32_t from, int32_t to) {
    const size_t kb = kPage * static_cast<size_t>(k_row_), vb = kPage * static_cast<size_t>(v_row_);
    for (size_t l = 0; l < k_.size(); ++l) {
        std::memcpy(k_[l].get() + size_t(to) * kb, k_[l].get() + size_t(from) * kb, kb);
        std::memcpy(v_[l].get() + size_t(to) * vb, v_[l].get() + size_t(from) * vb, vb);
    }
}

Status KvCache::grow(int seq, int new_len) {
    Seq& s = seqs_[static_cast<size_t>(seq)];
    if (new_len <= s.len) return Status::success();
    const size_t need_pages = static_cast<size_t>((new_len + kPage - 1) / kPage);
    // The page holding the next position is written to: unshare it first.
    const bool cow = s.len % kPage != 0 && refs_[static_cast<size_t>(s.pages.back())] > 1;
    const size_t new_pages = need_pages - s.pages.size() + (cow ? 1 : 0);
    if (new_pages > free_.size()) {
        return Error{"the KV cache is full: " + std::to_string(new_len) + " positions of sequence " + std::to_string(seq) +
                     " need " + std::to_string(new_pages) + " more pages of " + std::to_string(kPage) + ", " +
                     std::to_string(free_.size()) + " free (raise the context size)"};
    }
    auto take = [&] {
        const int32_t p = free_.back();
        free_.pop_back();
        refs_[static_cast<size_t>(p)] = 1;
        return p;
    };
    if (cow) {
        const int32_t fresh = take();
        copy_page(s.pages.back(), fresh);
        release(s.pages.back());
        s.pages.back() = fresh;
    }
    while (s.pages.size() < need_pages) s.pages.push_back(take());
    s.len = new_len;
    return Status::success();
}

void KvCache::truncate(int seq, int len) {
    Seq& s = seqs_[static_cast<size_t>(seq)];
    if (len >= s.len) return;
    const size_t keep = static_cast<size_t>((std::max(len, 0) + kPage - 1) / kPage);
    while (s.pages.size() > keep) {
        release(s.pages.back());
        s.pages.pop_back();
    }
    s.len = std::max(len, 0);
}

void KvCache::copy(int src, int dst) {
    if (src == dst) return;
    clear(dst);
    Seq& d = seqs_[static_cast<size_t>(dst)];
    d = seqs_[static_cast<size_t>(src)];
    for (int32_t p : d.pages) ++refs_[static_cast<size_t>(p)];
}

}  // namespace tf::model
