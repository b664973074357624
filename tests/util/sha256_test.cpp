#include "util/sha256.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(Sha256, matches_fips_180_test_vectors) {
    EXPECT_EQ(tf::sha256_hex(bytes_of("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(tf::sha256_hex(bytes_of("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(tf::sha256_hex(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, streaming_in_pieces_equals_one_shot) {
    std::vector<uint8_t> data(1 << 20);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + (i >> 9));
    tf::Sha256 h;
    for (size_t off = 0; off < data.size(); off += 4097) {
        h.update(std::span<const uint8_t>(data).subspan(off, std::min<size_t>(4097, data.size() - off)));
    }
    EXPECT_EQ(h.finish_hex(), tf::sha256_hex(data));
}

TEST(Sha256, million_a_vector) {
    std::string a(1000000, 'a');
    EXPECT_EQ(tf::sha256_hex(bytes_of(a)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
