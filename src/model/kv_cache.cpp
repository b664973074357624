#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/blocks.h"

namespace tf::model {

namespace {

int64_t row_bytes(TensorType type, int64_t dim) { return type == TensorType::Q8_0 ? dim / 32 * int64_t(sizeof(kernels::BlockQ8_0)) : 2 * dim; }

int pages_for(int len) { return (len + KvCache::kPage - 1) / KvCache::kPage; }

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

KvCache::KvCache(const std::vector<uint32_t>& windows, int64_t k_dim, int64_t v_dim, int capacity, int n_seq_max, TensorType k_type,
                 TensorType v_type, int swa_extra)
    : k_type_(k_type),
      v_type_(v_type),
      k_row_(row_bytes(k_type, k_dim)),
      v_row_(row_bytes(v_type, v_dim)),
      n_pages_((std::max(capacity, 1) + kPage - 1) / kPage),
      swa_extra_(swa_extra) {
    const size_t cells = size_t(n_pages_) * kPage;
    const size_t n_seq = static_cast<size_t>(std::max(n_seq_max, 1));
    for (size_t l = 0; l < windows.size(); ++l) {
        k_.emplace_back(new uint8_t[cells * static_cast<size_t>(k_row_)]);
        v_.emplace_back(new uint8_t[cells * static_cast<size_t>(v_row_)]);
        // Keeping every position, a windowed layer is no different from the others.
        const bool windowed = windows[l] > 0 && swa_extra >= 0;
        group_.push_back(windowed ? 1 : 0);
        tables_[windowed ? 1 : 0].layers.push_back(static_cast<int>(l));
        if (windowed) window_ = std::max(window_, windows[l]);
    }
    for (Table& t : tables_) {
        t.pages.resize(n_seq);
        t.first.assign(n_seq, 0);
        t.refs.assign(static_cast<size_t>(n_pages_), 0);
        // Handed out lowest first, so a lone sequence fills the pool in order.
        for (int32_t p = n_pages_ - 1; p >= 0; --p) t.free.push_back(p);
    }
    len_.assign(n_seq, 0);
}

int KvCache::free_cells() const {
    int cells = n_pages_ * kPage;
    for (const Table& t : tables_) {
        if (!t.layers.empty()) cells = std::min(cells, static_cast<int>(t.free.size()) * kPage);
    }
    return cells;
}

uint64_t KvCache::peak_bytes() const {
    uint64_t b = 0;
    for (const Table& t : tables_) b += uint64_t(t.peak) * kPage * uint64_t(k_row_ + v_row_) * t.layers.size();
    return b;
}

// Released pages go on top of the free list, so they are reused before any untouched page.
void KvCache::release(Table& t, int32_t page) {
    if (--t.refs[static_cast<size_t>(page)] == 0) t.free.push_back(page);
}

int32_t KvCache::take(Table& t) {
    const int32_t p = t.free.back();
    t.free.pop_back();
    t.refs[static_cast<size_t>(p)] = 1;
    t.peak = std::max(t.peak, n_pages_ - static_cast<int>(t.free.size()));
    return p;
}

void KvCache::copy_page(const Table& t, int32_t from, int32_t to) {
    const size_t kb = kPage * static_cast<size_t>(k_row_), vb = kPage * static_cast<size_t>(v_row_);
    for (int layer : t.layers) {
        const auto l = static_cast<size_t>(layer);
        std::memcpy(k_[l].get() + size_t(to) * kb, k_[l].get() + size_t(from) * kb, kb);
        std::memcpy(v_[l].get() + size_t(to) * vb, v_[l].get() + size_t(from) * vb, vb);
    }
}

Status KvCache::grow(int seq, int new_len) {
    const auto s = static_cast<size_t>(seq);
    const int len = len_[s];
    if (new_len <= len) return Status::success();
    const auto need_pages = static_cast<size_t>(pages_for(new_len));
    // The page holding the next position is written to: unshare it first.
    auto cow = [&](const Table& t) {
        const auto& pages = t.pages[s];
        return len % kPage != 0 && pages.back() >= 0 && t.refs[static_cast<size_t>(pages.back())] > 1;
    };
    for (const Table& t : tables_) {
        if (t.layers.empty()) continue;
        const size_t new_pages = need_pages - t.pages[s].size() + (cow(t) ? 1 : 0);
        if (new_pages > t.free.size()) {
            return Error{"the KV cache is full: " + std::to_string(new_len) + " positions of sequence " + std::to_string(seq) +
                         " need " + std::to_string(new_pages) + " more pages of " + std::to_string(kPage) + ", " +
                         std::to_string(t.free.size()) + " free (raise the context size)"};
        }
    }
    for (Table& t : tables_) {
        if (t.layers.empty()) continue;
        auto& pages = t.pages[s];
        if (cow(t)) {
            const int32_t fresh = take(t);
            copy_page(t, pages.back(), fresh);
            release(t, pages.back());
            pages.back() = fresh;
        }
        while (pages.size() < need_pages) pages.push_back(take(t));
    }
    len_[s] = new_len;
    return Status::success();
}

int KvCache::reusable(int seq, int len) const {
    const int have = len_[static_cast<size_t>(seq)];
    if (len >= have) return have;
    if (len <= 0) return 0;
    // The next position, `len`, attends back to len - window + 1.
    const int64_t needed_from = std::max<int64_t>(0, int64_t(len) - window_ + 1);
    const Table& w = tables_[1];
    if (!w.layers.empty() && needed_from < int64_t(w.first[static_cast<size_t>(seq)]) * kPage) return 0;
    return len;
}

int KvCache::truncate(int seq, int len) {
    const auto s = static_cast<size_t>(seq);
    len = reusable(seq, len);
    if (len >= len_[s]) return len_[s];
    const auto keep = static_cast<size_t>(pages_for(len));
    for (Table& t : tables_) {
        auto& pages = t.pages[s];
        while (pages.size() > keep) {
            if (pages.back() >= 0) release(t, pages.back());
            pages.pop_back();
        }
        t.first[s] = std::min(t.first[s], static_cast<int32_t>(keep));
    }
    len_[s] = len;
    return len;
}

void KvCache::copy(int src, int dst) {
    if (src == dst) return;
    clear(dst);
    for (Table& t : tables_) {
        auto& d = t.pages[static_cast<size_t>(dst)];
        d = t.pages[static_cast<size_t>(src)];
        t.first[static_cast<size_t>(dst)] = t.first[static_cast<size_t>(src)];
        for (int32_t p : d) {
            if (p >= 0) ++t.refs[static_cast<size_t>(p)];
        }
    }
    len_[static_cast<size_t>(dst)] = len_[static_cast<size_t>(src)];
}

void KvCache::slide(int seq) {
    Table& w = tables_[1];
    if (w.layers.empty()) return;
    const auto s = static_cast<size_t>(seq);
    // Positions from here on stay visible to the next position (len_), with the slack.
    const int64_t keep_from = int64_t(len_[s]) - window_ + 1 - swa_extra_;
    if (keep_from <= 0) return;
    auto& pages = w.pages[s];
    const auto below = static_cast<int32_t>(std::min<int64_t>(keep_from / kPage, static_cast<int64_t>(pages.size())));
    for (int32_t p = w.first[s]; p < below; ++p) {
        if (pages[static_cast<size_t>(p)] >= 0) {
            release(w, pages[static_cast<size_t>(p)]);
            pages[static_cast<size_t>(p)] = -1;
            ++released_;
        }
    }
    w.first[s] = std::max(w.first[s], below);
}

}  // namespace tf::model
