// SHA-256, streamed, via OpenSSL's libcrypto: the identity of a model file is the hash of its bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace tf {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(std::span<const uint8_t> bytes);
    std::string finish_hex();  // lowercase hex of the 32-byte digest; the object is spent afterwards

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::span<const uint8_t> bytes);

// Hashes in chunks so progress can be reported on multi-GB files; on_progress(done, total) may be empty.
std::string sha256_hex_chunked(std::span<const uint8_t> bytes,
                               const std::function<void(size_t, size_t)>& on_progress);

}  // namespace tf
