// Splitting a document into pieces that fit the model: by tokens of the model's own tokenizer,
// on structural boundaries (blank-line paragraphs, then lines, then a hard cut), with overlap,
// each piece knowing its byte span and page.
#pragma once

#include <vector>

#include "pipeline/document.h"
#include "tokenizer/tokenizer.h"

namespace tf::pipeline {

struct Chunk {
    size_t begin = 0, end = 0;  // byte span in Document::text
    int page = 1;
    int tokens = 0;
};

std::vector<Chunk> chunk_document(const Document& doc, const tok::Tokenizer& tokenizer, int max_tokens,
                                  int overlap_tokens);

}  // namespace tf::pipeline
