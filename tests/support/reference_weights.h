// A reference model's weights alone (reference/models/NAME.gguf), and the synthetic prompts the
// model tests feed the 512-token reference vocabularies.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "support/reference.h"

namespace tf::test {

inline std::unique_ptr<tf::model::Model> load_weights(const std::string& name) {
    auto m = tf::model::Model::load((reference_dir() / "models" / (name + ".gguf")).string());
    EXPECT_TRUE(m.ok()) << name << ": " << m.error().message;
    return m.ok() ? std::move(m.value()) : nullptr;
}

// BOS, then n - 1 ids spread over the vocabulary's first 503 ordinary tokens; salt varies them.
inline std::vector<int32_t> synthetic_prompt(int n, int salt) {
    std::vector<int32_t> ids{1};
    for (int i = 1; i < n; ++i) ids.push_back(3 + (i * 37 + salt * 101) % 500);
    return ids;
}

}  // namespace tf::test
