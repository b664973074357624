#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "support/reference.h"

namespace {

using tf::gguf::File;
using tf::gguf::Writer;

TEST(GgufRoundTrip, every_reference_file_is_rewritten_byte_for_byte) {
    TF_REQUIRE_REFERENCE();
    size_t checked = 0;
    for (const auto& p : tf::test::reference_ggufs()) {
        auto f = File::open(p.string());
        ASSERT_TRUE(f.ok()) << f.error().message;
        auto out = Writer::from_file(*f).write_to_memory();
        ASSERT_TRUE(out.ok()) << out.error().message;
        ASSERT_EQ(out->size(), f->bytes().size()) << p;
        size_t first_diff = 0;
        while (first_diff < out->size() && (*out)[first_diff] == f->bytes()[first_diff]) ++first_diff;
        EXPECT_EQ(first_diff, out->size()) << p << ": first differing byte " << first_diff;
        ++checked;
    }
    EXPECT_GE(checked, 49u);
}

TEST(GgufRoundTrip, writing_to_disk_is_atomic_and_identical) {
    TF_REQUIRE_REFERENCE();
    auto f = File::open((tf::test::reference_dir() / "models/tiny-qwen3-Q8_0.gguf").string());
    ASSERT_TRUE(f.ok());
    auto dir = std::filesystem::temp_directory_path() / ("tf-rt-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = (dir / "copy.gguf").string();
    uint64_t last_done = 0, last_total = 0;
    auto st = Writer::from_file(*f).write(path, [&](uint64_t d, uint64_t t) {
        last_done = d;
        last_total = t;
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
    EXPECT_EQ(last_done, last_total);
    auto g = File::open(path);
    ASSERT_TRUE(g.ok());
    ASSERT_EQ(g->bytes().size(), f->bytes().size());
    EXPECT_EQ(std::memcmp(g->bytes().data(), f->bytes().data(), f->bytes().size()), 0);
    std::filesystem::remove_all(dir);
}

TEST(GgufWriter, rejects_tensors_whose_bytes_do_not_match_their_shape) {
    Writer w;
    tf::gguf::TensorToWrite t;
    t.name = "w";
    t.type = tf::TensorType::Q8_0;
    t.dims = {64, 2};
    t.owned.assign(34 * 3, 0);  // 4 blocks needed
    w.add_tensor(t);
    auto out = w.write_to_memory();
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.error().message.find("102 bytes given"), std::string::npos) << out.error().message;
}

TEST(GgufWriter, refuses_a_write_into_a_missing_directory_without_leaving_files) {
    Writer w;
    w.set("general.architecture", tf::gguf::Value::string("llama"));
    auto st = w.write("/nonexistent-dir/x.gguf");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("/nonexistent-dir/x.gguf"), std::string::npos);
}

}  // namespace
