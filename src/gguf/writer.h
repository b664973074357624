// GGUF writer: metadata in insertion order, tensor data laid out in order, each tensor starting
// at a multiple of the alignment and zero-padded — the canonical layout llama.cpp writes, so a
// file read and written back is byte-identical. Writes go to a temporary file renamed into
// place, so an interrupted write never leaves a half-written model under the final name.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "gguf/value.h"
#include "util/result.h"
#include "util/tensor_type.h"

namespace tf::gguf {

struct TensorToWrite {
    std::string name;
    TensorType type = TensorType::F32;
    std::vector<uint64_t> dims;
    std::span<const uint8_t> data;  // borrowed; ignored when `owned` is non-empty or `produce` is set
    std::vector<uint8_t> owned;
    // Computes the bytes at write time (synthesis, quantization) so a multi-GB model is never held
    // in memory whole; must fill exactly byte_size() bytes.
    std::function<void(std::vector<uint8_t>&)> produce;

    uint64_t byte_size() const;
};

class Writer {
  public:
    // Copies metadata and borrows the tensor data of a file (which must outlive the writer).
    static Writer from_file(const File& file);

    void set(const std::string& key, Value value);  // replaces in place, or appends
    bool remove(const std::string& key);
    const Value* find(const std::string& key) const;
    void add_tensor(TensorToWrite tensor);
    std::vector<TensorToWrite>& tensors() { return tensors_; }
    void set_version(uint32_t v) { version_ = v; }
    // Whether the file ends padded to the alignment (llama.cpp pads; some vocabulary files do not).
    void set_pad_end(bool pad) { pad_end_ = pad; }

    // Fails (without touching any file) when a tensor's byte count does not match its type and
    // shape, or a name repeats. on_progress(bytes_written, total) may be empty.
    Status write(const std::string& path, const std::function<void(uint64_t, uint64_t)>& on_progress = {}) const;
    Result<std::vector<uint8_t>> write_to_memory() const;

  private:
    Status validate() const;
    uint32_t alignment() const;
    template <typename Sink>
    void emit(Sink& sink) const;

    uint32_t version_ = 3;
    bool pad_end_ = true;
    std::vector<KeyValue> metadata_;
    std::vector<TensorToWrite> tensors_;
};

// Writes file as `parts` GGUF files named as llama.cpp's gguf-split names them (first_path must
// be NAME-00001-of-0000N.gguf): all metadata in the first, tensors in order spread by bytes, the
// split.* keys in each. For media with a file-size limit (FAT32 USB sticks: 4 GiB).
Status write_split(const File& file, const std::string& first_path, int parts,
                   const std::function<void(uint64_t, uint64_t)>& on_progress = {});

}  // namespace tf::gguf
