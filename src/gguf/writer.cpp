#include "gguf/writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>
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
    if (v.type() == ValueType::STRING) put_string(s, *v.as_string());
    else if (v.type() == ValueType::ARRAY) put_array_body(s, v);
    else s.put(v.scalar_bytes(), value_type_scalar_size(v.type()));
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

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
    return w;
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

void Writer::add_tensor(TensorToWrite tensor) { tensors_.push_back(std::move(tensor)); }

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
