// A reference model with its tokenizer, for the engine's tests (reference/models/NAME.gguf).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "model/model.h"
#include "support/reference.h"
#include "tokenizer/tokenizer.h"

namespace tf::test {

struct LoadedModel {
    std::unique_ptr<tf::model::Model> model;
    std::unique_ptr<tf::tok::Tokenizer> tok;  // null when loading failed (the failure is reported)
};

inline LoadedModel load_reference_model(const std::string& name) {
    LoadedModel l;
    auto m = tf::model::Model::load((reference_dir() / "models" / (name + ".gguf")).string());
    EXPECT_TRUE(m.ok()) << name;
    if (!m.ok()) return l;
    l.model = std::move(m.value());
    auto t = tf::tok::Tokenizer::from_file(*l.model->file);
    EXPECT_TRUE(t.ok()) << name;
    if (t.ok()) l.tok = std::make_unique<tf::tok::Tokenizer>(std::move(t.value()));
    return l;
}

}  // namespace tf::test
