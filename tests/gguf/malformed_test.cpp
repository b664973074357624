// Every malformed-file case gives an error naming the field and the byte offset — never a crash.
#include <gtest/gtest.h>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "support/gguf_bytes.h"

namespace {

using tf::gguf::File;
using tf::test::GgufBytes;

std::string parse_error(const std::vector<uint8_t>& bytes) {
    auto f = File::parse(bytes, "bad.gguf");
    if (f.ok()) return "<parsed fine>";
    return f.error().message;
}

void expect_error(const GgufBytes& g, const std::string& at, const std::string& what) {
    std::string msg = parse_error(g.b);
    std::string where = at.empty() ? "bad.gguf: byte " : "bad.gguf: byte " + at + ": ";
    EXPECT_NE(msg.find(where), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
}

// A valid file with one F32 tensor of 8 elements; tests corrupt copies of it.
GgufBytes valid_file() {
    GgufBytes g;
    g.header(1, 1).kv_str("general.architecture", "llama").tensor("w", {8}, 0, 0).pad().zeros(32);
    return g;
}

TEST(GgufMalformed, the_valid_baseline_parses) { EXPECT_EQ(parse_error(valid_file().b), "<parsed fine>"); }

TEST(GgufMalformed, empty_and_tiny_files) {
    EXPECT_NE(parse_error({}).find("byte 0: not a GGUF file: only 0 bytes"), std::string::npos);
    EXPECT_NE(parse_error({'G', 'G'}).find("only 2 bytes"), std::string::npos);
}

TEST(GgufMalformed, wrong_magic) {
    GgufBytes g = valid_file();
    g.b[0] = 'P';
    expect_error(g, "0", "magic is 50 47 55 46");
}

TEST(GgufMalformed, unsupported_versions) {
    GgufBytes v1;
    v1.header(0, 0, 1);
    expect_error(v1, "4", "version 1");
    GgufBytes v9;
    v9.header(0, 0, 9);
    expect_error(v9, "4", "unsupported GGUF version 9");
    GgufBytes be;
    be.header(0, 0, 0x03000000u);
    expect_error(be, "4", "big-endian");
}

TEST(GgufMalformed, every_truncation_is_an_error_not_a_crash) {
    GgufBytes g = valid_file();
    for (size_t n = 0; n < g.size(); ++n) {
        std::vector<uint8_t> prefix(g.b.begin(), g.b.begin() + static_cast<ptrdiff_t>(n));
        std::string msg = parse_error(prefix);
        EXPECT_NE(msg, "<parsed fine>") << "prefix of " << n << " bytes";
        EXPECT_EQ(msg.rfind("bad.gguf: byte ", 0), 0u) << msg;
    }
    GgufBytes header_only;
    header_only.header(1, 0);
    expect_error(header_only, "8", "tensor_count 1 is impossible: only 0 bytes follow the header");
}

TEST(GgufMalformed, absurd_tensor_count) {
    GgufBytes g;
    g.header(1ull << 40, 0).zeros(64);
    expect_error(g, "8", "tensor_count 1099511627776 is impossible");
}

TEST(GgufMalformed, absurd_metadata_count) {
    GgufBytes g;
    g.header(0, ~0ull).zeros(64);
    expect_error(g, "16", "metadata_kv_count 18446744073709551615 is impossible");
}

TEST(GgufMalformed, absurd_string_length) {
    GgufBytes g;
    g.header(0, 1).u64(1ull << 62).zeros(16);
    expect_error(g, "24", "string length 4611686018427387904 exceeds");
    GgufBytes v;
    v.header(0, 1).str("general.name").u32(8).u64(~0ull);
    expect_error(v, "48", "value of 'general.name': string length 18446744073709551615");
}

TEST(GgufMalformed, absurd_array_length) {
    GgufBytes g;
    g.header(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(8).u64(1ull << 59).zeros(32);
    expect_error(g, "61", "array of 576460752303423488 string cannot fit");
    GgufBytes s;
    s.header(0, 1).str("tokenizer.ggml.scores").u32(9).u32(6).u64(1000).zeros(32);
    expect_error(s, "61", "array of 1000 f32 cannot fit");
}

TEST(GgufMalformed, unknown_value_types) {
    GgufBytes g;
    g.header(0, 1).str("k").u32(13).u32(0);
    expect_error(g, "33", "type of 'k': unknown value type 13");
    GgufBytes a;
    a.header(0, 1).str("k").u32(9).u32(77).u64(0);
    expect_error(a, "37", "array element type of 'k': unknown value type 77");
}

TEST(GgufMalformed, deeply_nested_arrays_are_refused) {
    GgufBytes g;
    g.header(0, 1).str("k").u32(9);
    for (int i = 0; i < 100; ++i) g.u32(9).u64(1);
    g.u32(4).u64(0);
    expect_error(g, "", "arrays nested deeper than 16");
}

TEST(GgufMalformed, bool_must_be_zero_or_one) {
    GgufBytes g;
    g.header(0, 1).str("k").u32(7).u8(2);
    expect_error(g, "37", "bool value 2");
}

TEST(GgufMalformed, duplicate_key) {
    GgufBytes g;
    g.header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2);
    expect_error(g, "43", "duplicate metadata key 'a.b' (first at byte 24)");
}

TEST(GgufMalformed, bad_alignment) {
    GgufBytes g;
    g.header(0, 1).kv_u32("general.alignment", 48);
    expect_error(g, "24", "general.alignment 48 is not a power of two");
    GgufBytes z;
    z.header(0, 1).kv_u32("general.alignment", 0);
    expect_error(z, "24", "not a power of two");
    GgufBytes t;
    t.header(0, 1).kv_str("general.alignment", "32");
    expect_error(t, "24", "general.alignment must be a u32, found string");
}

TEST(GgufMalformed, too_many_dimensions) {
    GgufBytes g;
    g.header(1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(32);
    expect_error(g, "33", "tensor 'w': n_dims 5 exceeds the maximum of 4");
}

TEST(GgufMalformed, element_count_overflow) {
    GgufBytes g;
    g.header(1, 0).tensor("w", {1ull << 40, 1ull << 40}, 0, 0).pad().zeros(32);
    expect_error(g, "45", "tensor 'w': element count overflows 64 bits");
    GgufBytes h;
    h.header(1, 0).tensor("w", {~0ull}, 0, 0).pad();
    expect_error(h, "37", "beyond 2^63-1");
}

TEST(GgufMalformed, unknown_tensor_type) {
    GgufBytes g;
    g.header(1, 0).tensor("w", {8}, 99, 0).pad().zeros(32);
    expect_error(g, "45", "tensor 'w': unknown tensor type id 99");
    GgufBytes removed;
    removed.header(1, 0).tensor("w", {8}, 4, 0).pad().zeros(32);
    expect_error(removed, "45", "unknown tensor type id 4");
}

TEST(GgufMalformed, row_not_a_whole_number_of_blocks) {
    GgufBytes g;
    g.header(1, 0).tensor("w", {33, 2}, 2, 0).pad().zeros(128);
    expect_error(g, "53", "row length 33 is not a multiple of the Q4_0 block size 32");
}

TEST(GgufMalformed, tensor_past_end_of_file) {
    GgufBytes g;
    g.header(1, 0).tensor("w", {64}, 0, 0).pad().zeros(32);  // needs 256 bytes, has 32
    expect_error(g, "24", "tensor 'w': data [0, +256) extends past the end of the file (data section holds 32 bytes)");
    GgufBytes far;
    far.header(1, 0).tensor("w", {8}, 0, 1ull << 62).pad().zeros(32);
    expect_error(far, "24", "extends past the end");
}

TEST(GgufMalformed, misaligned_tensor_offset) {
    GgufBytes g;
    g.header(1, 0).tensor("w", {8}, 0, 4).pad().zeros(64);
    expect_error(g, "49", "tensor 'w': data offset 4 is not a multiple of the alignment 32");
}

TEST(GgufMalformed, overlapping_tensors) {
    GgufBytes g;
    g.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(96);  // a spans [0,64)
    expect_error(g, "57", "tensor 'b' (data offset 32) overlaps tensor 'a' (data [0, 64))");
}

TEST(GgufMalformed, duplicate_tensor_name) {
    GgufBytes g;
    g.header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad().zeros(64);
    expect_error(g, "57", "duplicate tensor 'a'");
}

TEST(GgufMalformed, data_section_start_past_end) {
    GgufBytes g;
    g.header(1, 0).tensor("w", {0}, 0, 0);  // 57 bytes, data would start at 64
    expect_error(g, "57", "tensor data section would start at byte 64");
}

TEST(GgufMalformed, names_with_control_bytes_are_printed_escaped) {
    GgufBytes g;
    g.header(1, 0).tensor(std::string("w\x01\n", 3), {8}, 99, 0).pad().zeros(32);
    std::string msg = parse_error(g.b);
    EXPECT_NE(msg.find("tensor 'w\\x01\\x0a'"), std::string::npos) << msg;
}

}  // namespace
