#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "support/reference.h"
#include "util/sha256.h"

namespace {

namespace fs = std::filesystem;
using tf::gguf::File;

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("tf-split-" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() { fs::remove_all(path); }
};

TEST(GgufSplit, part_names_follow_gguf_split) {
    EXPECT_EQ(tf::gguf::split_part_path("/m/x-00001-of-00003.gguf", 2, 3), "/m/x-00002-of-00003.gguf");
    EXPECT_EQ(tf::gguf::split_part_path("x-Q4_K_M-00003-of-00003.gguf", 1, 3), "x-Q4_K_M-00001-of-00003.gguf");
    EXPECT_FALSE(tf::gguf::split_part_path("x.gguf", 1, 2));
    EXPECT_FALSE(tf::gguf::split_part_path("x-0001-of-00003.gguf", 1, 3));
}

TEST(GgufSplit, a_split_model_opens_as_one_with_every_tensor_and_identical_data) {
    TF_REQUIRE_REFERENCE();
    TempDir dir;
    auto whole = File::open((tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string());
    ASSERT_TRUE(whole.ok()) << whole.error().message;
    const std::string first = (dir.path / "tiny-00001-of-00003.gguf").string();
    auto st = tf::gguf::write_split(*whole, first, 3);
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (int k = 1; k <= 3; ++k) EXPECT_TRUE(fs::exists(*tf::gguf::split_part_path(first, k, 3)));

    auto split = File::open(first);
    ASSERT_TRUE(split.ok()) << split.error().message;
    EXPECT_EQ(split->parts().size(), 3u);
    ASSERT_EQ(split->tensors().size(), whole->tensors().size());
    for (const auto& t : whole->tensors()) {
        const auto* s = split->find_tensor(t.name);
        ASSERT_NE(s, nullptr) << t.name;
        EXPECT_EQ(s->dims, t.dims);
        EXPECT_EQ(s->type, t.type);
        ASSERT_EQ(s->data.size(), t.data.size());
        EXPECT_TRUE(std::equal(s->data.begin(), s->data.end(), t.data.begin())) << t.name;
    }
    EXPECT_EQ(split->get_string("general.architecture"), whole->get_string("general.architecture"));
    // The identity of a split model is the hash of its parts in order.
    tf::Sha256 h;
    for (const auto& p : split->parts()) h.update(p);
    EXPECT_EQ(split->content_sha256(), h.finish_hex());
    EXPECT_EQ(whole->content_sha256(), tf::sha256_hex(whole->bytes()));

    // Written back as one file, it is the original byte for byte (the split.* keys dropped).
    auto rejoined = tf::gguf::Writer::from_file(*split).write_to_memory();
    ASSERT_TRUE(rejoined.ok()) << rejoined.error().message;
    EXPECT_TRUE(std::equal(rejoined->begin(), rejoined->end(), whole->bytes().begin(), whole->bytes().end()));
}

TEST(GgufSplit, a_missing_or_wrong_part_and_a_later_part_are_named) {
    TF_REQUIRE_REFERENCE();
    TempDir dir;
    auto whole = File::open((tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string());
    ASSERT_TRUE(whole.ok());
    const std::string first = (dir.path / "m-00001-of-00003.gguf").string();
    ASSERT_TRUE(tf::gguf::write_split(*whole, first, 3).ok());
    const std::string second = *tf::gguf::split_part_path(first, 2, 3);
    const std::string third = *tf::gguf::split_part_path(first, 3, 3);

    auto later = File::open(second);
    ASSERT_FALSE(later.ok());
    EXPECT_NE(later.error().message.find("open the first part"), std::string::npos) << later.error().message;

    fs::rename(third, dir.path / "aside.gguf");
    auto missing = File::open(first);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("part 3 of 3"), std::string::npos) << missing.error().message;

    fs::copy_file(second, third);  // part 2 standing in for part 3
    auto wrong = File::open(first);
    ASSERT_FALSE(wrong.ok());
    EXPECT_NE(wrong.error().message.find("not part 3 of 3"), std::string::npos) << wrong.error().message;

    // Renamed so the siblings cannot be found.
    fs::rename(dir.path / "aside.gguf", third);
    fs::rename(first, dir.path / "renamed.gguf");
    auto renamed = File::open((dir.path / "renamed.gguf").string());
    ASSERT_FALSE(renamed.ok());
    EXPECT_NE(renamed.error().message.find("cannot be found"), std::string::npos) << renamed.error().message;
}

}  // namespace
