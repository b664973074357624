// One object from the answers a long document's chunks gave, each a JSON object valid under the
// schema (the grammar saw to that), field by field in the schema's order:
//   - a field no chunk filled (null, "", [] or {} everywhere) keeps that empty value;
//   - arrays: concatenated in document order, exact duplicates dropped, cut at the schema's
//     maxItems — what was cut is counted in `dropped`;
//   - any other value: when the chunks agree, that value; when they found different ones, the
//     chooser picks one of them (the model, scoring each candidate: see TaskRunner) — an invoice
//     total printed on the last page is then a candidate like any other, not lost to the first
//     page's guess.
// The merged object is checked against the schema by the caller, like any answer.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/result.h"

namespace tf::pipeline {

struct ChunkAnswer {
    nlohmann::ordered_json value;  // an object
    int page = 1;                  // where the chunk starts
};

struct Candidate {
    nlohmann::ordered_json value;
    int page = 1;  // of the first chunk that found it
};

// The index of the right candidate for `field` (at least two, in document order).
using Chooser = std::function<Result<size_t>(const std::string& field, const std::vector<Candidate>& candidates)>;

struct MergedAnswer {
    nlohmann::ordered_json value = nlohmann::ordered_json::object();
    nlohmann::ordered_json provenance =
        nlohmann::ordered_json::object();  // field -> {"page"} or {"pages"}, {"candidates"} when chosen
    nlohmann::ordered_json dropped = nlohmann::ordered_json::object();  // array field -> items cut at maxItems
};

Result<MergedAnswer> merge_chunk_answers(const std::vector<ChunkAnswer>& answers, const nlohmann::ordered_json& schema,
                                         const Chooser& choose);

// classify over a long document: each chunk's label log-probabilities, renormalized over the
// labels, averaged over the chunks, and renormalized again into the document's probabilities.
// Evidence anywhere counts — a chunk that says nothing (every label alike) moves nothing — and
// the result does not depend on the order of the chunks.
std::vector<double> combine_label_scores(const std::vector<std::vector<double>>& per_chunk);

}  // namespace tf::pipeline
