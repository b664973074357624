// Quantizing ladder-llama-F32 must reproduce llama.cpp's ladder-llama-<TYPE> files: byte for byte
// for every tensor of every type we quantize (the reference quantizers, no importance matrix).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "gguf/file.h"
#include "kernels/convert.h"
#include "support/reference.h"

namespace {

using tf::TensorType;

struct Stats {
    int tensors = 0, identical = 0;
    double ours_sq = 0, theirs_sq = 0;
    uint64_t n = 0;
};

std::vector<float> dequantize_tensor(const tf::gguf::TensorInfo& t) {
    std::vector<float> out(t.n_elements);
    const uint64_t row = t.dims[0];
    const uint64_t row_bytes = *tf::tensor_row_bytes(t.type, row);
    for (uint64_t r = 0; r < t.n_rows(); ++r) {
        tf::kernels::dequantize_row(t.type, t.data.data() + r * row_bytes, out.data() + r * row, static_cast<int64_t>(row));
    }
    return out;
}

std::map<std::string, Stats> compare_ladder(const std::string& ladder_type) {
    std::map<std::string, Stats> by_type;
    auto ref = tf::gguf::File::open((tf::test::reference_dir() / "models/ladder-llama-F32.gguf").string());
    auto q = tf::gguf::File::open((tf::test::reference_dir() / ("models/ladder-llama-" + ladder_type + ".gguf")).string());
    EXPECT_TRUE(ref.ok() && q.ok());
    for (const auto& t : q->tensors()) {
        if (t.type == TensorType::F32) continue;
        const auto* src = ref->find_tensor(t.name);
        EXPECT_NE(src, nullptr) << t.name;
        std::vector<float> x = dequantize_tensor(*src);
        const uint64_t row = t.dims[0];
        const uint64_t row_bytes = *tf::tensor_row_bytes(t.type, row);
        std::vector<uint8_t> mine(t.n_bytes);
        for (uint64_t r = 0; r < t.n_rows(); ++r) {
            tf::kernels::quantize_row(t.type, x.data() + r * row, mine.data() + r * row_bytes, static_cast<int64_t>(row));
        }
        Stats& s = by_type[std::string(tf::tensor_type_name(t.type))];
        s.tensors++;
        if (std::memcmp(mine.data(), t.data.data(), t.n_bytes) == 0) s.identical++;
        tf::gguf::TensorInfo mine_t = t;
        mine_t.data = mine;
        std::vector<float> a = dequantize_tensor(mine_t), b = dequantize_tensor(t);
        for (uint64_t i = 0; i < x.size(); ++i) {
            s.ours_sq += double(a[i] - x[i]) * (a[i] - x[i]);
            s.theirs_sq += double(b[i] - x[i]) * (b[i] - x[i]);
        }
        s.n += x.size();
    }
    return by_type;
}

class Ladder : public ::testing::TestWithParam<std::string> {};

TEST_P(Ladder, requantizing_the_f32_model_reproduces_llama_cpp) {
    TF_REQUIRE_REFERENCE();
    for (const auto& [type, s] : compare_ladder(GetParam())) {
        double ours = std::sqrt(s.ours_sq / s.n), theirs = std::sqrt(s.theirs_sq / s.n);
        std::printf("[ladder %s] %-7s %d/%d tensors identical, rmse ours %.6g llama.cpp %.6g\n", GetParam().c_str(),
                    type.c_str(), s.identical, s.tensors, ours, theirs);
        EXPECT_EQ(s.identical, s.tensors) << type;
        EXPECT_LE(ours, theirs * (1 + 1e-9)) << type;
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Ladder,
                         ::testing::Values("F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M",
                                           "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"),
                         [](const auto& info) { return info.param; });

}  // namespace
