// GGUF reader: a validated, zero-copy view of a GGUF v2/v3 file.
//
// Layout (little-endian): "GGUF" magic, u32 version, u64 tensor count, u64 metadata count,
// metadata key/values, tensor infos (name, u32 n_dims, u64 dims[n_dims] innermost first,
// u32 type, u64 offset relative to the data section), zero padding up to general.alignment
// (default 32), then the tensor data. Every field is checked against the bytes that are really
// there before it is used, so a hostile file yields an Error naming the field and byte offset.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/value.h"
#include "util/mapped_file.h"
#include "util/result.h"
#include "util/tensor_type.h"

namespace tf::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kMaxArrayNesting = 16;

struct KeyValue {
    std::string key;
    Value value;
    uint64_t file_offset = 0;  // where the key/value starts, for messages
};

struct TensorInfo {
    std::string name;
    std::vector<uint64_t> dims;  // dims[0] is the row length (contiguous elements)
    TensorType type = TensorType::F32;
    uint64_t offset = 0;  // relative to the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    uint64_t info_offset = 0;       // where its tensor info starts in the file
    std::span<const uint8_t> data;  // view into the file

    uint64_t n_rows() const { return dims.empty() || dims[0] == 0 ? 0 : n_elements / dims[0]; }
    std::string shape_string() const;  // "[128, 512]"
};

class File {
  public:
    // Maps the file and validates it completely (header, metadata, tensor extents). The first part
    // of a split model (NAME-00001-of-0000N.gguf, with split.count > 1) opens every part beside it
    // and joins their tensors into one File; opening a later part names the first.
    static Result<File> open(const std::string& path);
    // Validates bytes the caller keeps alive for the File's lifetime; label names them in errors.
    static Result<File> parse(std::span<const uint8_t> bytes, const std::string& label);

    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    const std::string& label() const { return label_; }
    std::span<const uint8_t> bytes() const { return bytes_; }
    bool is_mapped() const { return mapping_ != nullptr; }  // bytes are a read-only file mapping (open)
    // Every part's bytes in order; one element for an unsplit file. bytes() is the first part.
    const std::vector<std::span<const uint8_t>>& parts() const { return parts_; }
    uint64_t total_size() const;
    // The model's identity: SHA-256 of its bytes (of every part's bytes in order, for a split model).
    std::string content_sha256(const std::function<void(size_t, size_t)>& on_progress = {}) const;

    const std::vector<KeyValue>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<double> get_double(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string> get_string(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

  private:
    friend class Parser;
    std::shared_ptr<MappedFile> mapping_;
    std::vector<std::shared_ptr<MappedFile>> other_mappings_;  // parts 2..N of a split model
    std::vector<std::span<const uint8_t>> parts_;
    std::string label_;
    std::span<const uint8_t> bytes_;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> metadata_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string, size_t> key_index_;
    std::unordered_map<std::string, size_t> tensor_index_;
};

// "dir/NAME-00002-of-00003.gguf" for (path of any part, 1, 3): split models' file names, as
// llama.cpp's gguf-split writes them. std::nullopt when path does not follow the pattern.
std::optional<std::string> split_part_path(const std::string& path, int part_no, int count);

}  // namespace tf::gguf
