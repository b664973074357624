// Splits text into the pieces byte-level BPE merges within, with the regular expressions a
// vocabulary's tokenizer.ggml.pre names (the patterns of each model's tokenizer.json, as llama.cpp
// uses them). Each expression splits every piece left by the previous one; the text between
// matches is kept as pieces too. Compiled once with PCRE2 (UTF, Unicode properties, JIT).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace tf::tok {

class PreTokenizer {
  public:
    static Result<std::unique_ptr<PreTokenizer>> create(const std::string& pre_name);
    ~PreTokenizer();

    // Appends (offset, length) byte spans of the pieces of text.
    void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const;
    const std::vector<std::string>& patterns() const { return patterns_; }

  private:
    struct Compiled;
    PreTokenizer() = default;
    std::vector<std::string> patterns_;
    std::vector<Compiled*> compiled_;
};

// The patterns for a tokenizer.ggml.pre name (an unknown name gets llama.cpp's default list).
std::vector<std::string> pretokenizer_patterns(const std::string& pre_name);

}  // namespace tf::tok
