#include "pipeline/merge.h"

#include <algorithm>
#include <cmath>

namespace tf::pipeline {

using ojson = nlohmann::ordered_json;

namespace {

bool informative(const ojson& v) {
    return !(v.is_null() || (v.is_string() && v.get<std::string>().empty()) || (v.is_array() && v.empty()) ||
             (v.is_object() && v.empty()));
}

// The field's own schema when the root lists it directly (maxItems is read from there).
const ojson* field_schema(const ojson& schema, const std::string& key) {
    if (!schema.is_object() || !schema.contains("properties") || !schema["properties"].is_object()) return nullptr;
    auto it = schema["properties"].find(key);
    return it == schema["properties"].end() ? nullptr : &*it;
}

}  // namespace

Result<MergedAnswer> merge_chunk_answers(const std::vector<ChunkAnswer>& answers, const ojson& schema,
                                         const Chooser& choose) {
    MergedAnswer out;
    // Field order: the schema's, then any other in order of appearance.
    std::vector<std::string> keys;
    if (schema.is_object() && schema.contains("properties") && schema["properties"].is_object()) {
        for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) keys.push_back(it.key());
    }
    for (const auto& a : answers) {
        if (!a.value.is_object()) return Error{"a chunk's answer is not an object"};
        for (auto it = a.value.begin(); it != a.value.end(); ++it) {
            if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
        }
    }
    for (const std::string& key : keys) {
        std::vector<Candidate> found;  // informative values in document order
        const ojson* empty = nullptr;
        for (const auto& a : answers) {
            auto it = a.value.find(key);
            if (it == a.value.end()) continue;
            if (informative(*it))
                found.push_back({*it, a.page});
            else if (empty == nullptr)
                empty = &*it;
        }
        if (found.empty()) {
            if (empty != nullptr) out.value[key] = *empty;
            continue;
        }
        const bool arrays =
            std::all_of(found.begin(), found.end(), [](const Candidate& c) { return c.value.is_array(); });
        if (arrays) {
            ojson items = ojson::array();
            ojson pages = ojson::array();
            size_t cut = 0;
            const ojson* fs = field_schema(schema, key);
            const int64_t cap =
                fs && fs->is_object() && fs->contains("maxItems") && (*fs)["maxItems"].is_number_integer()
                    ? (*fs)["maxItems"].get<int64_t>()
                    : -1;
            for (const auto& c : found) {
                bool used = false;
                for (const auto& e : c.value) {
                    if (std::find(items.begin(), items.end(), e) != items.end()) continue;
                    if (cap >= 0 && static_cast<int64_t>(items.size()) >= cap) {
                        ++cut;
                        continue;
                    }
                    items.push_back(e);
                    used = true;
                }
                if (used && std::find(pages.begin(), pages.end(), c.page) == pages.end()) pages.push_back(c.page);
            }
            out.value[key] = items;
            out.provenance[key] = {{"pages", pages}};
            if (cut > 0) out.dropped[key] = cut;
            continue;
        }
        std::vector<Candidate> distinct;
        for (const auto& c : found) {
            if (std::none_of(distinct.begin(), distinct.end(), [&](const Candidate& d) { return d.value == c.value; }))
                distinct.push_back(c);
        }
        size_t pick = 0;
        if (distinct.size() > 1) {
            auto chosen = choose(key, distinct);
            if (!chosen) return chosen.error();
            if (*chosen >= distinct.size()) return Error{"internal: the chooser picked no candidate"};
            pick = *chosen;
            out.provenance[key] = {{"page", distinct[pick].page}, {"candidates", distinct.size()}};
        } else {
            out.provenance[key] = {{"page", distinct[0].page}};
        }
        out.value[key] = distinct[pick].value;
    }
    return out;
}

std::vector<double> combine_label_scores(const std::vector<std::vector<double>>& per_chunk) {
    if (per_chunk.empty()) return {};
    const size_t n = per_chunk[0].size();
    std::vector<double> mean(n, 0.0);
    for (const auto& scores : per_chunk) {
        const double best = *std::max_element(scores.begin(), scores.end());
        double z = 0;
        for (double v : scores) z += std::exp(v - best);
        for (size_t i = 0; i < n; ++i)
            mean[i] += (scores[i] - best - std::log(z)) / static_cast<double>(per_chunk.size());
    }
    const double best = *std::max_element(mean.begin(), mean.end());
    double z = 0;
    for (double v : mean) z += std::exp(v - best);
    std::vector<double> p(n);
    for (size_t i = 0; i < n; ++i) p[i] = std::exp(mean[i] - best) / z;
    return p;
}

}  // namespace tf::pipeline
