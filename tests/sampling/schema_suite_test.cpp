// The official JSON-Schema-Test-Suite (../shared/peer-tests/json-schema) against the validator,
// and the grammar compiler's agreement with it: valid instances, serialized compactly, must be
// accepted by the compiled grammar; invalid ones are counted when the grammar rejects them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/matcher.h"
#include "sampling/jsonschema/to_grammar.h"
#include "sampling/jsonschema/validator.h"
#include "support/reference.h"

namespace {

using json = nlohmann::ordered_json;

std::filesystem::path suite_dir() { return tf::test::shared_dir() / "peer-tests" / "json-schema" / "tests"; }

json load(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return json::parse(ss.str());
}

std::vector<std::filesystem::path> files(const std::string& draft) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(suite_dir() / draft)) {
        if (e.path().extension() == ".json") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Keywords whose files need what the validator does not do (remote references, dynamic scopes,
// unevaluated* annotation tracking, vocabularies).
bool unsupported_file(const std::string& stem) {
    return stem == "refRemote" || stem == "dynamicRef" || stem == "unevaluatedItems" || stem == "unevaluatedProperties" ||
           stem == "vocabulary" || stem == "id" || stem == "anchor" || stem == "defs" || stem == "infinite-loop-detection";
}

TEST(SchemaSuite, validator_pass_rate_per_keyword) {
    if (!std::filesystem::exists(suite_dir())) GTEST_SKIP() << "no test suite at " << suite_dir();
    for (const char* draft : {"draft2020-12", "draft7"}) {
        size_t pass = 0, total = 0, pass_supported = 0, total_supported = 0;
        std::string table;
        for (const auto& path : files(draft)) {
            const std::string stem = path.stem().string();
            size_t p = 0, t = 0;
            for (const auto& group : load(path)) {
                auto v = tf::jsonschema::Validator::compile(group["schema"]);
                for (const auto& test : group["tests"]) {
                    const bool got = v.ok() && v->valid(test["data"]);
                    p += got == test["valid"].get<bool>();
                    ++t;
                }
            }
            pass += p, total += t;
            if (!unsupported_file(stem)) pass_supported += p, total_supported += t;
            if (p != t) table += " " + stem + " " + std::to_string(p) + "/" + std::to_string(t) + ";";
        }
        std::printf("[schema-suite] %s validator: %zu/%zu tests (%.1f %%); keywords we support: %zu/%zu (%.1f %%)\n  below 100 %%:%s\n",
                    draft, pass, total, 100.0 * pass / total, pass_supported, total_supported, 100.0 * pass_supported / total_supported,
                    table.c_str());
        EXPECT_GE(100.0 * pass_supported / total_supported, 95.0) << draft;
    }
}

TEST(SchemaSuite, grammar_agrees_with_the_suite) {
    if (!std::filesystem::exists(suite_dir())) GTEST_SKIP() << "no test suite at " << suite_dir();
    size_t groups = 0, compiled = 0, valid = 0, valid_accepted = 0, invalid = 0, invalid_rejected = 0;
    std::string misses;
    std::map<std::string, size_t> misses_per_file;
    for (const auto& path : files("draft2020-12")) {
        for (const auto& group : load(path)) {
            ++groups;
            auto text = tf::jsonschema::schema_to_gbnf(group["schema"]);
            if (!text) continue;
            auto g = tf::grammar::parse_gbnf(*text);
            if (!g) continue;
            ++compiled;
            auto gp = std::make_shared<const tf::grammar::Grammar>(std::move(g.value()));
            for (const auto& test : group["tests"]) {
                tf::grammar::Matcher m(gp);
                const bool accepted = m.accept(test["data"].dump()) && m.can_end();
                if (test["valid"].get<bool>()) {
                    ++valid;
                    valid_accepted += accepted;
                    if (!accepted) ++misses_per_file[path.stem().string()];
                    if (!accepted && misses.size() < 1200) misses += "\n  " + path.stem().string() + ": " + group["description"].get<std::string>() + " / " + test["data"].dump();
                } else {
                    ++invalid;
                    invalid_rejected += !accepted;
                }
            }
        }
    }
    std::printf("[schema-suite] grammar: %zu/%zu schemas compiled; valid instances accepted %zu/%zu (%.1f %%); invalid rejected %zu/%zu (%.1f %%)%s\n",
                compiled, groups, valid_accepted, valid, 100.0 * valid_accepted / valid, invalid_rejected, invalid,
                100.0 * invalid_rejected / invalid, misses.c_str());
    std::string per_file;
    for (const auto& [file, n] : misses_per_file) per_file += " " + file + " " + std::to_string(n) + ";";
    std::printf("  valid instances refused, per file:%s\n", per_file.c_str());
    // Below 100 % by design: property order fixed, no extra properties unless allowed explicitly,
    // an untyped schema with string/array keywords read as that type (llama.cpp's choices).
    EXPECT_GE(100.0 * valid_accepted / valid, 70.0);
}

}  // namespace

namespace {

// optional/format with format assertion on (how `extract` and the contracts judge answers):
// every test passes, or its file is listed here with the reason. The formats the grammar writes
// must be exact in the validator too; the others are annotations (any string passes), so their
// invalid instances are the listed failures.
TEST(SchemaSuite, format_assertion_passes_or_says_why) {
    if (!std::filesystem::exists(suite_dir())) GTEST_SKIP() << "no test suite at " << suite_dir();
    static const std::map<std::string, std::string> kNotAsserted = {
        {"duration", "ISO 8601 durations are not checked (an annotation)"},
        {"ecmascript-regex", "regex dialect checks are not implemented (an annotation)"},
        {"idn-email", "internationalized addresses are not checked (an annotation)"},
        {"idn-hostname", "internationalized host names (IDNA 2008) are not checked (an annotation)"},
        {"iri", "IRIs are not checked (an annotation)"},
        {"iri-reference", "IRI references are not checked (an annotation)"},
        {"json-pointer", "JSON pointers are not checked (an annotation)"},
        {"regex", "regex syntax is not checked (an annotation)"},
        {"relative-json-pointer", "relative JSON pointers are not checked (an annotation)"},
        {"uri-reference", "URI references are not checked (an annotation)"},
        {"uri-template", "URI templates are not checked (an annotation)"},
    };
    // Groups of a checked format that ask for more than its syntax.
    static const std::map<std::string, std::string> kNotAssertedGroups = {
        {"hostname/validation of A-label (punycode) host names",
         "A-labels (xn--) are not decoded: IDNA 2008's rules on the Unicode they encode are not checked"},
    };
    tf::jsonschema::ValidatorOptions vo;
    vo.assert_formats = true;
    std::string report, unexplained, group_reasons;
    size_t pass = 0, total = 0;
    for (const auto& e : std::filesystem::directory_iterator(suite_dir() / "draft2020-12" / "optional" / "format")) {
        const std::string stem = e.path().stem().string();
        size_t p = 0, t = 0;
        for (const auto& group : load(e.path())) {
            auto v = tf::jsonschema::Validator::compile(group["schema"], vo);
            for (const auto& test : group["tests"]) {
                const bool ok = v.ok() && v->valid(test["data"]) == test["valid"].get<bool>();
                p += ok;
                ++t;
                const std::string group_key = stem + "/" + group["description"].get<std::string>();
                if (!ok && kNotAssertedGroups.count(group_key)) {
                    if (group_reasons.find(group_key) == std::string::npos) group_reasons += " " + group_key + " (" + kNotAssertedGroups.at(group_key) + ");";
                    continue;
                }
                if (!ok && !kNotAsserted.count(stem)) {
                    unexplained += "\n  " + stem + ": " + group["description"].get<std::string>() + " / " + test["description"].get<std::string>() +
                                   " / " + test["data"].dump();
                }
            }
        }
        pass += p, total += t;
        if (p != t) report += " " + stem + " " + std::to_string(p) + "/" + std::to_string(t) + (kNotAsserted.count(stem) ? " (" + kNotAsserted.at(stem) + ")" : "") + ";";
    }
    std::printf("[schema-suite] optional/format, asserted: %zu/%zu; below 100 %%:%s\n  groups not asserted:%s\n", pass, total, report.c_str(),
                group_reasons.c_str());
    EXPECT_TRUE(unexplained.empty()) << "format tests failing without a reason:" << unexplained;
}

}  // namespace
