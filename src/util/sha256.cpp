#include "util/sha256.h"

#include <openssl/evp.h>
#include <stdexcept>

namespace tf {

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    impl_->ctx = EVP_MD_CTX_new();
    if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("libcrypto: cannot initialise SHA-256");
    }
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::update(std::span<const uint8_t> bytes) {
    if (!bytes.empty()) EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size());
}

std::string Sha256::finish_hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(impl_->ctx, digest, &len);
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

std::string sha256_hex(std::span<const uint8_t> bytes) { return sha256_hex_chunked(bytes, {}); }

std::string sha256_hex_chunked(std::span<const uint8_t> bytes,
                               const std::function<void(size_t, size_t)>& on_progress) {
    constexpr size_t chunk = size_t(16) << 20;
    Sha256 h;
    for (size_t done = 0; done < bytes.size();) {
        size_t n = std::min(chunk, bytes.size() - done);
        h.update(bytes.subspan(done, n));
        done += n;
        if (on_progress) on_progress(done, bytes.size());
    }
    return h.finish_hex();
}

}  // namespace tf
