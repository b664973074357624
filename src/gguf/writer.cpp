#include "gguf/writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>

namespace tf::gguf {

namespace {

class MemorySink {
  public:
    void put(const void* p, size_t n) {
        auto b = static_cast<const uint8_t*>(p);
        out.insert(out.end(), b, b + n);
    }
    uint64_t written() const { return out.size(); }
    std::vector<uint8_t> out;
};

class FileSink {
  public:
    explicit FileSink(std::FILE* f, uint64_t total, const std::function<void(uint64_t, uint64_t)>& progress)
        : f_(f), total_(total), progress_(progress) {}
    void put(const void* p, size_t n) {
        if (n == 0 || failed) return;
        if (std::fwrite(p, 1, n, f_) != n) failed = true;
        written_ += n;
        if (progress_ && written_ - reported_ >= (uint64_t(64) << 20)) {
            reported_ = written_;
            progress_(written_, total_);
        }
    }
    uint64_t written() const { return written_; }
    bool failed = false;

  private:
    std::FILE* f_;
    uint64_t written_ = 0, reported_ = 0, total_;
    const std::function<void(uint64_t, uint64_t)>& progress_;
};

template <typename Sink, typename T>
void put_scalar(Sink& s, T v) {
    s.put(&v, sizeof v);
}

template <typename Sink>
void put_string(Sink& s, const std::string& str) {
    put_scalar<Sink, uint64_t>(s, str.size());
    s.put(str.data(), str.size());
}

template <typename Sink>
void put_array_body(Sink& s, const Value& v) {
    put_scalar<Sink, uint32_t>(s, static_cast<uint32_t>(v.array_type()));
    put_scalar<Sink, uint64_t>(s, v.array_size());
    if (v.array_type() == ValueType::STRING) {
        for (const auto& str : v.array_strings()) put_string(s, str);
    } else if (v.array_type() == ValueType::ARRAY) {
        for (const auto& item : v.array_values()) put_array_body(s, item);
    } else {
        s.put(v.array_packed().data(), v.array_packed().size());
    }
}

template <typename Sink>
void put_value(Sink& s, const Value& v) {
    put_scalar<Sink, uint32_t>(s, static_cast<uint32_t>(v.type()));
    if (v.type() == ValueType::STRING)
        put_string(s, *v.as_string());
    else if (v.type() == ValueType::ARRAY)
        put_array_body(s, v);
    else
        s.put(v.scalar_bytes(), value_type_scalar_size(v.type()));
}

uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

}  // namespace

uint64_t TensorToWrite::byte_size() const {
    if (!owned.empty()) return owned.size();
    if (!produce) return data.size();
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    const auto& info = tensor_type_info(type);
    return n / info.block_size * info.type_size;
}

Writer Writer::from_file(const File& file) {
    Writer w;
    w.version_ = file.version();
    w.metadata_ = file.metadata();
    w.pad_end_ = file.bytes().size() % file.alignment() == 0;
    for (const TensorInfo& t : file.tensors()) {
        TensorToWrite tw;
        tw.name = t.name;
        tw.type = t.type;
        tw.dims = t.dims;
        tw.data = t.data;
        w.tensors_.push_back(std::move(tw));
    }
    // The copy is one file, whatever the source was.
    for (const char* k : {"split.no", "split.count", "split.tensors.count"}) w.remove(k);
    return w;
}

Status write_split(const File& file, const std::string& first_path, int parts,
                   const std::function<void(uint64_t, uint64_t)>& on_progress) {
    const auto& ts = file.tensors();
    if (parts < 1 || parts > 9999) return Error{"a split needs 1 to 9999 parts, not " + std::to_string(parts)};
    if (static_cast<size_t>(parts) > std::max<size_t>(ts.size(), 1))
        return Error{"cannot split " + std::to_string(ts.size()) + " tensors into " + std::to_string(parts) + " parts"};
    auto name_of = [&](int k) { return split_part_path(first_path, k + 1, parts); };
    if (!name_of(0)) return Error{first_path + ": a split model's first part must be named NAME-00001-of-0000N.gguf"};
    // Parts of about equal bytes, tensors kept in order, each part at least one tensor.
    uint64_t total = 0;
    for (const auto& t : ts) total += t.n_bytes;
    std::vector<size_t> first(parts + 1, ts.size());
    first[0] = 0;
    uint64_t acc = 0;
    int k = 1;
    for (size_t i = 0; i < ts.size() && k < parts; ++i) {
        const size_t remaining = ts.size() - i;
        if ((acc >= total * k / parts && i > first[k - 1]) || remaining == static_cast<size_t>(parts - k))
            first[k++] = i;
        acc += ts[i].n_bytes;
    }
    uint64_t written = 0;
    for (int p = 0; p < parts; ++p) {
        Writer w;
        w.set_version(file.version());
        if (p == 0) {
            w = Writer::from_file(file);
            w.tensors().clear();
        } else if (auto a = file.find("general.alignment")) {
            w.set("general.alignment", *a);
        }
        w.set("split.no", Value::u16(static_cast<uint16_t>(p)));
        w.set("split.count", Value::u16(static_cast<uint16_t>(parts)));
        w.set("split.tensors.count", Value::i32(static_cast<int32_t>(ts.size())));
        for (size_t i = first[p]; i < first[p + 1]; ++i) {
            TensorToWrite tw;
            tw.name = ts[i].name;
            tw.type = ts[i].type;
            tw.dims = ts[i].dims;
            tw.data = ts[i].data;
            w.add_tensor(std::move(tw));
        }
        const uint64_t base = written;
        auto st = w.write(*name_of(p), [&](uint64_t d, uint64_t) {
            if (on_progress) on_progress(base + d, total);
        });
        if (!st) return st;
        for (size_t i = first[p]; i < first[p + 1]; ++i) written += ts[i].n_bytes;
    }
    return {};
}

void Writer::set(const std::string& key, Value value) {
    for (auto& kv : metadata_) {
        if (kv.key == key) {
            kv.value = std::move(value);
            return;
        }
    }
    metadata_.push_back(KeyValue{key, std::move(value), 0});
}

bool Writer::remove(const std::string& key) {
    for (auto it = metadata_.begin(); it != metadata_.end(); ++it) {
        if (it->key == key) {
            metadata_.erase(it);
            return true;
        }
    }
    return false;
}

const Value* Writer::find(const std::string& key) const {
    for (const auto& kv : metadata_) {
        if (kv.key == key) return &kv.value;
    }
    return nullptr;
}

void Writer::add_tensor(TensorToWrite tensor) {
    tensors_.push_back(std::move(tensor));
}

uint32_t Writer::alignment() const {
    if (const Value* v = find("general.alignment"); v != nullptr && v->type() == ValueType::U32) {
        uint64_t a = *v->as_uint();
        if (a != 0 && (a & (a - 1)) == 0) return static_cast<uint32_t>(a);
    }
    return kDefaultAlignment;
}

Status Writer::validate() const {
    if (const Value* v = find("general.alignment"); v != nullptr) {
        auto a = v->type() == ValueType::U32 ? v->as_uint() : std::nullopt;
        if (!a || *a == 0 || (*a & (*a - 1)) != 0) return Error{"general.alignment must be a u32 power of two"};
    }
    std::unordered_set<std::string> names;
    for (const auto& t : tensors_) {
        if (!names.insert(t.name).second) return Error{"duplicate tensor name '" + t.name + "'"};
        if (t.dims.size() > kMaxDims) return Error{"tensor '" + t.name + "' has more than 4 dimensions"};
        uint64_t n = 1;
        for (uint64_t d : t.dims) n *= d;
        const auto& info = tensor_type_info(t.type);
        uint64_t row = t.dims.empty() ? 1 : t.dims[0];
        if (row % info.block_size != 0) {
            return Error{"tensor '" + t.name + "': row length " + std::to_string(row) + " is not a multiple of the " +
                         std::string(info.name) + " block size " + std::to_string(info.block_size)};
        }
        uint64_t expect = n / info.block_size * info.type_size;
        if (t.byte_size() != expect) {
            return Error{"tensor '" + t.name + "': " + std::to_string(t.byte_size()) + " bytes given, " +
                         std::string(info.name) + " " + std::to_string(n) + " elements need " + std::to_string(expect)};
        }
    }
    return Status::success();
}

template <typename Sink>
void Writer::emit(Sink& s) const {
    const uint64_t align = alignment();
    put_scalar<Sink, uint32_t>(s, kMagic);
    put_scalar<Sink, uint32_t>(s, version_);
    put_scalar<Sink, uint64_t>(s, tensors_.size());
    put_scalar<Sink, uint64_t>(s, metadata_.size());
    for (const auto& kv : metadata_) {
        put_string(s, kv.key);
        put_value(s, kv.value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        put_string(s, t.name);
        put_scalar<Sink, uint32_t>(s, static_cast<uint32_t>(t.dims.size()));
        for (uint64_t d : t.dims) put_scalar<Sink, uint64_t>(s, d);
        put_scalar<Sink, uint32_t>(s, static_cast<uint32_t>(t.type));
        put_scalar<Sink, uint64_t>(s, offset);
        offset = align_up(offset + t.byte_size(), align);
    }
    static const uint8_t zeros[256] = {};
    auto pad_to = [&](uint64_t target) {
        while (s.written() < target) s.put(zeros, std::min<uint64_t>(sizeof zeros, target - s.written()));
    };
    if (!tensors_.empty()) pad_to(align_up(s.written(), align));
    std::vector<uint8_t> scratch;
    for (const auto& t : tensors_) {
        if (!t.owned.empty()) {
            s.put(t.owned.data(), t.owned.size());
        } else if (t.produce) {
            scratch.assign(t.byte_size(), 0);
            t.produce(scratch);
            s.put(scratch.data(), scratch.size());
        } else {
            s.put(t.data.data(), t.data.size());
        }
        // Files with tensors pad every tensor; some tensor-less files (vocabularies) end unpadded.
        if (pad_end_ || &t != &tensors_.back()) pad_to(align_up(s.written(), align));
    }
    if (tensors_.empty() && pad_end_) pad_to(align_up(s.written(), align));
}

Result<std::vector<uint8_t>> Writer::write_to_memory() const {
    if (Status st = validate(); !st) return st.error();
    MemorySink s;
    emit(s);
    return std::move(s.out);
}

Status Writer::write(const std::string& path, const std::function<void(uint64_t, uint64_t)>& on_progress) const {
    if (Status st = validate(); !st) return Error{path + ": " + st.error().message};
    uint64_t total = 0;
    for (const auto& t : tensors_) total += t.byte_size();
    std::string tmp = path + ".partial";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) return Error{tmp + ": " + std::strerror(errno)};
    FileSink s(f, total, on_progress);
    emit(s);
    bool ok = !s.failed && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    int err = errno;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
        std::remove(tmp.c_str());
        return Error{path + ": write failed: " + std::strerror(err)};
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        err = errno;
        std::remove(tmp.c_str());
        return Error{path + ": cannot rename the finished file into place: " + std::strerror(err)};
    }
    if (on_progress) on_progress(total, total);
    return Status::success();
}

}  // namespace tf::gguf
