#include "gguf/file.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "util/sha256.h"

namespace tf::gguf {

namespace {

struct ParseFailure {
    uint64_t offset;
    std::string message;
};

std::string printable(std::string_view s, size_t max_len = 64) {
    std::string out;
    for (unsigned char c : s.substr(0, max_len)) {
        if (c >= 0x20 && c < 0x7f)
            out.push_back(static_cast<char>(c));
        else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (s.size() > max_len) out += "...";
    return out;
}

// Bounds-checked little-endian reads over the file bytes. Every failure names the field.
class Cursor {
  public:
    explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return bytes_.size() - pos_; }

    [[noreturn]] void fail(uint64_t at, std::string message) const { throw ParseFailure{at, std::move(message)}; }

    void need(uint64_t n, std::string_view field) const {
        if (n > remaining()) {
            fail(pos_, "truncated file: " + std::string(field) + " needs " + std::to_string(n) + " bytes, only " +
                           std::to_string(remaining()) + " remain");
        }
    }

    template <typename T>
    T read(std::string_view field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    const uint8_t* take(uint64_t n, std::string_view field) {
        need(n, field);
        const uint8_t* p = bytes_.data() + pos_;
        pos_ += n;
        return p;
    }

    std::string read_string(std::string_view field) {
        uint64_t at = pos_;
        uint64_t len = read<uint64_t>(field);
        if (len > remaining()) {
            fail(at, std::string(field) + ": string length " + std::to_string(len) + " exceeds the " +
                         std::to_string(remaining()) + " bytes left in the file");
        }
        const uint8_t* p = take(len, field);
        return std::string(reinterpret_cast<const char*>(p), len);
    }

  private:
    std::span<const uint8_t> bytes_;
    uint64_t pos_ = 0;
};

// The least number of bytes one array element of this type occupies: bounds forged counts.
uint64_t min_element_bytes(ValueType t) {
    if (t == ValueType::STRING) return 8;
    if (t == ValueType::ARRAY) return 12;
    return value_type_scalar_size(t);
}

ValueType read_value_type(Cursor& c, std::string_view field) {
    uint64_t at = c.pos();
    uint32_t raw = c.read<uint32_t>(field);
    if (raw >= kValueTypeCount) c.fail(at, std::string(field) + ": unknown value type " + std::to_string(raw));
    return static_cast<ValueType>(raw);
}

Value read_value(Cursor& c, ValueType type, const std::string& key, uint32_t depth);

Value read_array(Cursor& c, const std::string& key, uint32_t depth) {
    if (depth > kMaxArrayNesting) {
        c.fail(c.pos(), "key '" + printable(key) + "': arrays nested deeper than " + std::to_string(kMaxArrayNesting));
    }
    ValueType element = read_value_type(c, "array element type of '" + printable(key) + "'");
    uint64_t count_at = c.pos();
    uint64_t count = c.read<uint64_t>("array length of '" + printable(key) + "'");
    uint64_t min_bytes = min_element_bytes(element);
    if (count > c.remaining() / min_bytes) {
        c.fail(count_at, "key '" + printable(key) + "': array of " + std::to_string(count) + " " +
                             std::string(value_type_name(element)) + " cannot fit in the " +
                             std::to_string(c.remaining()) + " bytes left in the file");
    }
    if (value_type_is_scalar(element)) {
        uint64_t n = count * min_bytes;
        const uint8_t* p = c.take(n, "array data");
        std::vector<uint8_t> packed(p, p + n);
        return Value::scalar_array(element, std::move(packed), count);
    }
    if (element == ValueType::STRING) {
        std::vector<std::string> items;
        items.reserve(count);
        for (uint64_t i = 0; i < count; ++i)
            items.push_back(c.read_string("string element of '" + printable(key) + "'"));
        return Value::string_array(std::move(items));
    }
    std::vector<Value> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) items.push_back(read_array(c, key, depth + 1));
    return Value::nested_array(std::move(items));
}

Value read_value(Cursor& c, ValueType type, const std::string& key, uint32_t depth) {
    if (type == ValueType::STRING) return Value::string(c.read_string("value of '" + printable(key) + "'"));
    if (type == ValueType::ARRAY) return read_array(c, key, depth);
    const uint8_t* p = c.take(value_type_scalar_size(type), "value of '" + printable(key) + "'");
    if (type == ValueType::BOOL && *p > 1) {
        c.fail(c.pos() - 1, "key '" + printable(key) + "': bool value " + std::to_string(*p) + " is neither 0 nor 1");
    }
    return Value::scalar(type, p);
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
    return __builtin_mul_overflow(a, b, out);
}

}  // namespace

std::string TensorInfo::shape_string() const {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(dims[i]);
    }
    return s + "]";
}

class Parser {
  public:
    static void run(File& f);
};

void Parser::run(File& f) {
    Cursor c(f.bytes_);
    uint32_t magic = c.read<uint32_t>("magic");
    if (magic != kMagic) {
        char buf[96];
        const uint8_t* m = f.bytes_.data();
        std::snprintf(buf, sizeof buf, "not a GGUF file: magic is %02x %02x %02x %02x, expected 47 47 55 46 (\"GGUF\")",
                      m[0], m[1], m[2], m[3]);
        c.fail(0, buf);
    }
    uint32_t version = c.read<uint32_t>("version");
    if (version == 0x02000000u || version == 0x03000000u) {
        c.fail(4, "big-endian GGUF files are not supported (version field reads " + std::to_string(version) + ")");
    }
    if (version == 1) c.fail(4, "GGUF version 1 (2023 pre-release format) is not supported; re-convert the model");
    if (version != 2 && version != 3) {
        c.fail(4, "unsupported GGUF version " + std::to_string(version) + " (this reader knows versions 2 and 3)");
    }
    f.version_ = version;

    uint64_t tensor_count_at = c.pos();
    uint64_t tensor_count = c.read<uint64_t>("tensor_count");
    uint64_t kv_count_at = c.pos();
    uint64_t kv_count = c.read<uint64_t>("metadata_kv_count");
    // A tensor info is at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes,
    // a key/value at least 8 (key length) + 4 (type) + 1 byte.
    if (tensor_count > c.remaining() / 24) {
        c.fail(tensor_count_at, "tensor_count " + std::to_string(tensor_count) + " is impossible: only " +
                                    std::to_string(c.remaining()) + " bytes follow the header");
    }
    if (kv_count > c.remaining() / 13) {
        c.fail(kv_count_at, "metadata_kv_count " + std::to_string(kv_count) + " is impossible: only " +
                                std::to_string(c.remaining()) + " bytes follow the header");
    }

    f.metadata_.reserve(kv_count);
    for (uint64_t i = 0; i < kv_count; ++i) {
        uint64_t at = c.pos();
        std::string key = c.read_string("key of metadata entry " + std::to_string(i));
        if (key.empty()) c.fail(at, "metadata entry " + std::to_string(i) + " has an empty key");
        ValueType type = read_value_type(c, "type of '" + printable(key) + "'");
        Value value = read_value(c, type, key, 0);
        auto [it, inserted] = f.key_index_.emplace(key, f.metadata_.size());
        if (!inserted) {
            c.fail(at, "duplicate metadata key '" + printable(key) + "' (first at byte " +
                           std::to_string(f.metadata_[it->second].file_offset) + ")");
        }
        f.metadata_.push_back(KeyValue{std::move(key), std::move(value), at});
    }

    if (auto it = f.key_index_.find("general.alignment"); it != f.key_index_.end()) {
        const KeyValue& kv = f.metadata_[it->second];
        if (kv.value.type() != ValueType::U32) {
            c.fail(kv.file_offset,
                   "general.alignment must be a u32, found " + std::string(value_type_name(kv.value.type())));
        }
        uint64_t a = *kv.value.as_uint();
        if (a == 0 || (a & (a - 1)) != 0) {
            c.fail(kv.file_offset, "general.alignment " + std::to_string(a) + " is not a power of two");
        }
        f.alignment_ = static_cast<uint32_t>(a);
    }

    f.tensors_.reserve(tensor_count);
    for (uint64_t i = 0; i < tensor_count; ++i) {
        TensorInfo t;
        t.info_offset = c.pos();
        t.name = c.read_string("name of tensor " + std::to_string(i));
        std::string who = "tensor '" + printable(t.name) + "'";
        uint64_t dims_at = c.pos();
        uint32_t n_dims = c.read<uint32_t>("n_dims");
        if (n_dims > kMaxDims) {
            c.fail(dims_at,
                   who + ": n_dims " + std::to_string(n_dims) + " exceeds the maximum of " + std::to_string(kMaxDims));
        }
        t.n_elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t at = c.pos();
            uint64_t dim = c.read<uint64_t>("dimension");
            if (dim > static_cast<uint64_t>(INT64_MAX)) {
                c.fail(at, who + ": dimension " + std::to_string(d) + " is " + std::to_string(dim) + ", beyond 2^63-1");
            }
            if (mul_overflows(t.n_elements, dim, &t.n_elements) || t.n_elements > static_cast<uint64_t>(INT64_MAX)) {
                c.fail(at, who + ": element count overflows 64 bits");
            }
            t.dims.push_back(dim);
        }
        uint64_t type_at = c.pos();
        uint32_t type_id = c.read<uint32_t>("tensor type");
        const TensorTypeInfo* ti = tensor_type_info(type_id);
        if (ti == nullptr) c.fail(type_at, who + ": unknown tensor type id " + std::to_string(type_id));
        t.type = ti->type;
        uint64_t row = t.dims.empty() ? 1 : t.dims[0];
        if (row % ti->block_size != 0) {
            c.fail(type_at, who + ": row length " + std::to_string(row) + " is not a multiple of the " +
                                std::string(ti->name) + " block size " + std::to_string(ti->block_size));
        }
        uint64_t blocks = t.n_elements / ti->block_size;
        if (mul_overflows(blocks, ti->type_size, &t.n_bytes)) c.fail(type_at, who + ": byte size overflows 64 bits");
        uint64_t offset_at = c.pos();
        t.offset = c.read<uint64_t>("tensor data offset");
        if (t.offset % f.alignment_ != 0) {
            c.fail(offset_at, who + ": data offset " + std::to_string(t.offset) +
                                  " is not a multiple of the alignment " + std::to_string(f.alignment_));
        }
        auto [it, inserted] = f.tensor_index_.emplace(t.name, f.tensors_.size());
        if (!inserted)
            c.fail(t.info_offset, "duplicate " + who + " (tensor infos " + std::to_string(it->second) + " and " +
                                      std::to_string(i) + ")");
        f.tensors_.push_back(std::move(t));
    }

    uint64_t end_of_infos = c.pos();
    f.data_offset_ = (end_of_infos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    const uint64_t size = f.bytes_.size();
    if (!f.tensors_.empty() && f.data_offset_ > size) {
        c.fail(end_of_infos, "truncated file: the tensor data section would start at byte " +
                                 std::to_string(f.data_offset_) + " but the file has " + std::to_string(size) +
                                 " bytes");
    }
    const uint64_t data_size = size >= f.data_offset_ ? size - f.data_offset_ : 0;

    std::vector<size_t> order(f.tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (TensorInfo& t : f.tensors_) {
        if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
            c.fail(t.info_offset, "tensor '" + printable(t.name) + "': data [" + std::to_string(t.offset) + ", +" +
                                      std::to_string(t.n_bytes) +
                                      ") extends past the end of the file (data section holds " +
                                      std::to_string(data_size) + " bytes)");
        }
        t.data = f.bytes_.subspan(f.data_offset_ + t.offset, t.n_bytes);
    }
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
        const TensorInfo& prev = f.tensors_[order[k - 1]];
        const TensorInfo& cur = f.tensors_[order[k]];
        if (cur.offset < prev.offset + prev.n_bytes && cur.n_bytes > 0 && prev.n_bytes > 0) {
            c.fail(cur.info_offset, "tensor '" + printable(cur.name) + "' (data offset " + std::to_string(cur.offset) +
                                        ") overlaps tensor '" + printable(prev.name) + "' (data [" +
                                        std::to_string(prev.offset) + ", " +
                                        std::to_string(prev.offset + prev.n_bytes) + "))");
        }
    }
}

Result<File> File::parse(std::span<const uint8_t> bytes, const std::string& label) {
    File f;
    f.label_ = label;
    f.bytes_ = bytes;
    f.parts_ = {bytes};
    if (bytes.size() < 4) {
        return Error{label + ": byte 0: not a GGUF file: only " + std::to_string(bytes.size()) + " bytes"};
    }
    try {
        Parser::run(f);
    } catch (const ParseFailure& e) {
        return Error{label + ": byte " + std::to_string(e.offset) + ": " + e.message};
    } catch (const std::bad_alloc&) {
        return Error{label + ": out of memory while reading metadata"};
    }
    return f;
}

std::optional<std::string> split_part_path(const std::string& path, int part_no, int count) {
    // NAME-%05d-of-%05d.gguf
    constexpr std::string_view kSuffix = ".gguf";
    if (path.size() < 20 || path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
        return std::nullopt;
    const size_t tail = path.size() - kSuffix.size() - 15;  // "-00001-of-00003"
    const std::string_view t(path.data() + tail, 15);
    auto digits = [](std::string_view d) {
        return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (t[0] != '-' || t.substr(6, 4) != "-of-" || !digits(t.substr(1, 5)) || !digits(t.substr(10, 5)))
        return std::nullopt;
    char buf[32];
    std::snprintf(buf, sizeof buf, "-%05d-of-%05d", part_no, count);
    return path.substr(0, tail) + buf + std::string(kSuffix);
}

Result<File> File::open(const std::string& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    std::shared_ptr<MappedFile> mapping = std::move(mapped.value());
    auto parsed = parse(mapping->bytes(), path);
    if (!parsed) return parsed.error();
    File f = std::move(parsed.value());
    f.mapping_ = std::move(mapping);

    const int64_t count = f.get_int("split.count").value_or(1);
    if (count <= 1) return f;
    if (count > 9999)
        return Error{path + ": split.count " + std::to_string(count) + " is not a plausible number of parts"};
    const int64_t no = f.get_int("split.no").value_or(0);
    if (no != 0) {
        auto first = split_part_path(path, 1, static_cast<int>(count));
        return Error{path + ": part " + std::to_string(no + 1) + " of a split model; open the first part" +
                     (first ? " (" + *first + ")" : "")};
    }
    // Each part is a complete GGUF of its own (with the split.* keys), holding some of the tensors.
    for (int k = 1; k < count; ++k) {
        auto part_path = split_part_path(path, k + 1, static_cast<int>(count));
        if (!part_path)
            return Error{
                path + ": split.count is " + std::to_string(count) +
                " but the file name does not follow NAME-00001-of-0000N.gguf, so the other parts cannot be found"};
        auto pm = MappedFile::open(*part_path);
        if (!pm)
            return Error{path + ": split model part " + std::to_string(k + 1) + " of " + std::to_string(count) + ": " +
                         pm.error().message};
        std::shared_ptr<MappedFile> pmap = std::move(pm.value());
        auto part = parse(pmap->bytes(), *part_path);
        if (!part) return part.error();
        if (part->get_int("split.count").value_or(1) != count || part->get_int("split.no").value_or(-1) != k)
            return Error{*part_path + ": not part " + std::to_string(k + 1) + " of " + std::to_string(count) +
                         " (its split.no/split.count say otherwise)"};
        for (auto& t : part->tensors_) {
            auto [it, inserted] = f.tensor_index_.emplace(t.name, f.tensors_.size());
            if (!inserted) return Error{*part_path + ": tensor '" + t.name + "' is also in an earlier part"};
            f.tensors_.push_back(std::move(t));
        }
        f.parts_.push_back(pmap->bytes());
        f.other_mappings_.push_back(std::move(pmap));
    }
    if (auto want = f.get_int("split.tensors.count"); want && *want != static_cast<int64_t>(f.tensors_.size()))
        return Error{path + ": split.tensors.count says " + std::to_string(*want) + " tensors, the " +
                     std::to_string(count) + " parts hold " + std::to_string(f.tensors_.size())};
    return f;
}

uint64_t File::total_size() const {
    uint64_t n = 0;
    for (const auto& p : parts_) n += p.size();
    return n;
}

std::string File::content_sha256(const std::function<void(size_t, size_t)>& on_progress) const {
    if (parts_.size() <= 1) return sha256_hex_chunked(bytes_, on_progress);
    Sha256 h;
    const size_t total = total_size();
    size_t done = 0;
    constexpr size_t kChunk = size_t(16) << 20;
    for (const auto& p : parts_) {
        for (size_t off = 0; off < p.size(); off += kChunk) {
            const size_t n = std::min(kChunk, p.size() - off);
            h.update(p.subspan(off, n));
            done += n;
            if (on_progress) on_progress(done, total);
        }
    }
    return h.finish_hex();
}

const Value* File::find(std::string_view key) const {
    auto it = key_index_.find(std::string(key));
    return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

std::optional<int64_t> File::get_int(std::string_view key) const {
    const Value* v = find(key);
    return v ? v->as_int() : std::nullopt;
}

std::optional<double> File::get_double(std::string_view key) const {
    const Value* v = find(key);
    return v ? v->as_double() : std::nullopt;
}

std::optional<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    return v ? v->as_bool() : std::nullopt;
}

std::optional<std::string> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr || v->as_string() == nullptr) return std::nullopt;
    return *v->as_string();
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(std::string(name));
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tf::gguf
