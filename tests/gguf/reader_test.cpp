#include <gtest/gtest.h>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "support/gguf_bytes.h"
#include "support/reference.h"

namespace {

using tf::gguf::File;
using tf::gguf::Value;
using tf::gguf::ValueType;

TEST(GgufReader, every_reference_file_opens) {
    TF_REQUIRE_REFERENCE();
    auto files = tf::test::reference_ggufs();
    ASSERT_GE(files.size(), 49u);
    for (const auto& p : files) {
        auto f = File::open(p.string());
        ASSERT_TRUE(f.ok()) << f.error().message;
        EXPECT_EQ(f->version(), 3u) << p;
        EXPECT_TRUE(f->find("general.architecture") != nullptr) << p;
        for (const auto& t : f->tensors()) {
            EXPECT_EQ(t.data.size(), t.n_bytes) << p << " " << t.name;
            EXPECT_GE(t.data.data(), f->bytes().data() + f->data_offset());
        }
    }
}

TEST(GgufReader, reads_tensor_infos_of_tiny_llama) {
    TF_REQUIRE_REFERENCE();
    auto f = File::open((tf::test::reference_dir() / "models/tiny-llama.gguf").string());
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->tensors().size(), 21u);
    const auto* q = f->find_tensor("blk.0.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->dims, (std::vector<uint64_t>{128, 128}));
    EXPECT_EQ(q->type, tf::TensorType::F32);
    EXPECT_EQ(q->n_bytes, 128u * 128 * 4);
    const auto* k = f->find_tensor("blk.0.attn_k.weight");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->dims, (std::vector<uint64_t>{128, 64}));  // 2 KV heads of 32
    EXPECT_EQ(f->get_int("llama.attention.head_count_kv"), 2);
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
    const Value* tokens = f->find("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    EXPECT_EQ(tokens->array_size(), 512u);
    EXPECT_EQ(tokens->array_strings()[1], "<s>");
}

TEST(GgufReader, reads_quantized_tensor_sizes) {
    TF_REQUIRE_REFERENCE();
    auto f = File::open((tf::test::reference_dir() / "models/ladder-llama-Q4_K_M.gguf").string());
    ASSERT_TRUE(f.ok()) << f.error().message;
    const auto* out = f->find_tensor("output.weight");
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->type, tf::TensorType::Q6_K);  // llama.cpp's mix keeps the output at Q6_K
    EXPECT_EQ(out->n_bytes, out->n_elements / 256 * 210);
}

TEST(GgufReader, reads_every_value_type_and_nested_arrays) {
    tf::gguf::Writer w;
    w.set("a.u8", Value::u8(200));
    w.set("a.i8", Value::i8(-100));
    w.set("a.u16", Value::u16(60000));
    w.set("a.i16", Value::i16(-30000));
    w.set("a.u32", Value::u32(4000000000u));
    w.set("a.i32", Value::i32(-2000000000));
    w.set("a.f32", Value::f32(0.25f));
    w.set("a.bool", Value::boolean(true));
    w.set("a.str", Value::string("héllo\n"));
    w.set("a.u64", Value::u64(18000000000000000000ull));
    w.set("a.i64", Value::i64(-9000000000000000000ll));
    w.set("a.f64", Value::f64(1e300));
    w.set("a.strs", Value::string_array({"x", "", "yz"}));
    w.set("a.f32s", Value::f32_array({1.5f, -2.0f}));
    w.set("a.empty", Value::string_array({}));
    w.set("a.nested", Value::nested_array({Value::i32_array({1, 2}), Value::string_array({"q"})}));
    auto bytes = w.write_to_memory();
    ASSERT_TRUE(bytes.ok());
    auto f = File::parse(*bytes, "mem");
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->get_int("a.u8"), 200);
    EXPECT_EQ(f->get_int("a.i8"), -100);
    EXPECT_EQ(f->get_int("a.u16"), 60000);
    EXPECT_EQ(f->get_int("a.i16"), -30000);
    EXPECT_EQ(f->get_int("a.u32"), 4000000000ll);
    EXPECT_EQ(f->get_int("a.i32"), -2000000000);
    EXPECT_EQ(f->get_double("a.f32"), 0.25);
    EXPECT_EQ(f->get_bool("a.bool"), true);
    EXPECT_EQ(f->get_string("a.str"), "héllo\n");
    EXPECT_EQ(f->find("a.u64")->as_uint(), 18000000000000000000ull);
    EXPECT_FALSE(f->get_int("a.u64").has_value());  // does not fit int64: no silent wrap
    EXPECT_EQ(f->get_int("a.i64"), -9000000000000000000ll);
    EXPECT_EQ(f->get_double("a.f64"), 1e300);
    EXPECT_EQ(f->find("a.strs")->array_strings(), (std::vector<std::string>{"x", "", "yz"}));
    EXPECT_EQ(f->find("a.f32s")->array_double(1), -2.0);
    EXPECT_EQ(f->find("a.empty")->array_size(), 0u);
    const Value* nested = f->find("a.nested");
    ASSERT_EQ(nested->array_type(), ValueType::ARRAY);
    ASSERT_EQ(nested->array_values().size(), 2u);
    EXPECT_EQ(nested->array_values()[0].array_int(1), 2);
    EXPECT_EQ(nested->array_values()[1].array_strings()[0], "q");
    EXPECT_EQ(f->alignment(), 32u);
}

TEST(GgufReader, reads_version_2_files) {
    tf::test::GgufBytes g;
    g.header(1, 1, 2).kv_str("general.architecture", "llama").tensor("t", {4}, 0, 0).pad().zeros(16).pad();
    auto f = File::parse(g.b, "v2");
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->version(), 2u);
    EXPECT_EQ(f->tensors()[0].n_bytes, 16u);
}

TEST(GgufReader, honours_general_alignment) {
    tf::test::GgufBytes g;
    g.header(2, 1).str("general.alignment").u32(4).u32(64);
    g.tensor("a", {4}, 0, 0).tensor("b", {4}, 0, 64).pad(64).zeros(128);
    auto f = File::parse(g.b, "aligned");
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->alignment(), 64u);
    EXPECT_EQ(f->data_offset() % 64, 0u);
    EXPECT_EQ(f->tensors()[1].data.data() - f->bytes().data(), static_cast<ptrdiff_t>(f->data_offset() + 64));
}

TEST(GgufReader, reports_obsolete_and_exotic_types_instead_of_rejecting_them) {
    for (uint32_t type : {31u, 34u, 39u, 40u, 41u, 42u, 16u, 29u}) {
        const auto* info = tf::tensor_type_info(type);
        ASSERT_NE(info, nullptr);
        tf::test::GgufBytes g;
        g.header(1, 0).tensor("w", {info->block_size * 2, 3}, type, 0).pad().zeros(info->type_size * 6).pad();
        auto f = File::parse(g.b, "exotic");
        ASSERT_TRUE(f.ok()) << info->name << ": " << f.error().message;
        EXPECT_EQ(f->tensors()[0].n_bytes, info->type_size * 6u);
    }
}

}  // namespace
