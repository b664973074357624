// Hand-assembles GGUF bytes field by field, so tests can forge any malformed file.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tf::test {

struct GgufBytes {
    std::vector<uint8_t> b;

    GgufBytes& u8(uint8_t v) { return raw(&v, 1); }
    GgufBytes& u32(uint32_t v) { return raw(&v, 4); }
    GgufBytes& u64(uint64_t v) { return raw(&v, 8); }
    GgufBytes& f32(float v) { return raw(&v, 4); }
    GgufBytes& str(const std::string& s) {
        u64(s.size());
        return raw(s.data(), s.size());
    }
    GgufBytes& raw(const void* p, size_t n) {
        auto c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
        return *this;
    }
    GgufBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        raw("GGUF", 4);
        u32(version);
        u64(n_tensors);
        return u64(n_kv);
    }
    GgufBytes& kv_u32(const std::string& key, uint32_t v) {
        str(key);
        u32(4);
        return u32(v);
    }
    GgufBytes& kv_str(const std::string& key, const std::string& v) {
        str(key);
        u32(8);
        return str(v);
    }
    GgufBytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
        str(name);
        u32(static_cast<uint32_t>(dims.size()));
        for (uint64_t d : dims) u64(d);
        u32(type);
        return u64(offset);
    }
    GgufBytes& pad(size_t align = 32) {
        while (b.size() % align) b.push_back(0);
        return *this;
    }
    GgufBytes& zeros(size_t n) {
        b.insert(b.end(), n, 0);
        return *this;
    }
    size_t size() const { return b.size(); }
};

}  // namespace tf::test
