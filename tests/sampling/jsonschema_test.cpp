// JSON Schema → grammar against llama.cpp's converter tests (../shared/peer-tests/gbnf): every
// schema case's passing strings accepted and failing ones rejected (with llama.cpp's optional
// whitespace), and the refusals refused.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/matcher.h"
#include "sampling/jsonschema/int_range.h"
#include "sampling/jsonschema/to_grammar.h"
#include "sampling/jsonschema/validator.h"
#include "support/reference.h"

namespace {

using tf::grammar::Grammar;
using tf::grammar::Matcher;

std::filesystem::path gbnf_dir() {
    return tf::test::shared_dir() / "peer-tests" / "gbnf";
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::shared_ptr<const Grammar> compile(const nlohmann::ordered_json& schema, bool flexible,
                                       std::string* error = nullptr) {
    tf::jsonschema::GrammarOptions o;
    o.flexible_whitespace = flexible;
    auto text = tf::jsonschema::schema_to_gbnf(schema, o);
    if (!text) {
        if (error) *error = text.error().message;
        return nullptr;
    }
    auto g = tf::grammar::parse_gbnf(*text);
    if (!g) {
        if (error) *error = g.error().message + "\n" + *text;
        return nullptr;
    }
    return std::make_shared<const Grammar>(std::move(g.value()));
}

bool matches(const std::shared_ptr<const Grammar>& g, const std::string& text) {
    Matcher m(g);
    return m.accept(text) && m.can_end();
}

TEST(JsonSchemaGrammar, llama_cpp_integration_schema_cases) {
    if (!std::filesystem::exists(gbnf_dir())) GTEST_SKIP() << "no peer tests";
    const auto j = nlohmann::ordered_json::parse(slurp(gbnf_dir() / "llamacpp-grammar-integration.json"));
    int cases = 0, ok_strings = 0, strings = 0;
    for (const auto& c : j["cases"]) {
        if (c["kind"] != "schema") continue;
        SCOPED_TRACE(c["name"].get<std::string>() + " " + c["schema"].dump());
        std::string err;
        auto g = compile(c["schema"], true, &err);
        ASSERT_TRUE(g) << err;
        for (const auto& s : c["passing"]) {
            const bool ok = matches(g, s.get<std::string>());
            EXPECT_TRUE(ok) << "should accept: " << s;
            ok_strings += ok, ++strings;
        }
        for (const auto& s : c["failing"]) {
            const bool ok = !matches(g, s.get<std::string>());
            EXPECT_TRUE(ok) << "should reject: " << s;
            ok_strings += ok, ++strings;
        }
        ++cases;
    }
    std::printf("[json-schema] llama.cpp integration: %d schemas, %d/%d strings right\n", cases, ok_strings, strings);
    EXPECT_EQ(cases, 33);
}

TEST(JsonSchemaGrammar, llama_cpp_converter_cases_compile_or_refuse_alike) {
    if (!std::filesystem::exists(gbnf_dir())) GTEST_SKIP() << "no peer tests";
    const auto cases = nlohmann::ordered_json::parse(slurp(gbnf_dir() / "llamacpp-json-schema-to-grammar.json"));
    int agree = 0;
    for (const auto& c : cases) {
        std::string err;
        const bool compiled = compile(c["schema"], false, &err) != nullptr;
        const bool expected = c["expected_status"] == "success";
        EXPECT_EQ(compiled, expected) << c["name"] << ": " << err;
        agree += compiled == expected;
    }
    std::printf("[json-schema] llama.cpp converter: %d/%zu cases compile or refuse alike\n", agree, cases.size());
}

TEST(JsonSchemaGrammar, integer_ranges_are_exact) {
    for (auto [lo, hi] : std::vector<std::pair<std::optional<int64_t>, std::optional<int64_t>>>{{0, 23},
                                                                                                {15, 300},
                                                                                                {-123, 42},
                                                                                                {-10, 10},
                                                                                                {5, std::nullopt},
                                                                                                {std::nullopt, -5},
                                                                                                {-1000, -7},
                                                                                                {0, 0},
                                                                                                {99, 101}}) {
        auto g = tf::grammar::parse_gbnf("root ::= " + tf::jsonschema::integer_range_gbnf(lo, hi));
        ASSERT_TRUE(g.ok()) << g.error().message;
        auto gp = std::make_shared<const Grammar>(std::move(g.value()));
        for (int64_t v = -1500; v <= 1500; ++v) {
            const bool in = (!lo || v >= *lo) && (!hi || v <= *hi);
            ASSERT_EQ(matches(gp, std::to_string(v)), in)
                << v << " in [" << (lo ? *lo : -999999) << ", " << (hi ? *hi : 999999) << "]";
        }
        EXPECT_FALSE(matches(gp, "-0"));
        EXPECT_FALSE(matches(gp, "007"));
    }
}

// Bounded numbers: whatever the grammar lets through is within the bounds (no exponents, no
// fraction that could cross a bound), and the common values are still there.
TEST(JsonSchemaGrammar, number_bounds_are_sound) {
    struct Case {
        const char* schema;
        std::vector<const char*> in, out;
    };
    for (const Case& c : std::vector<Case>{
             {R"({"type":"number","minimum":-90,"maximum":90})",
              {"-90", "90", "0", "89.5", "-89.999999", "-0.25", "12"},
              {"90.5", "-90.1", "1e3", "91", "-91", "9e1"}},
             {R"({"type":"number","minimum":5})", {"5", "5.5", "1234567.25"}, {"4.9", "0.5", "-1", "4", "5e2"}},
             {R"({"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1})",
              {"0.5", "0.000001"},
              {"0", "1", "1.0", "-0.5", "0.0"}},
             {R"({"type":"number","maximum":-2.5})", {"-3", "-3.75", "-100.5"}, {"-2", "-2.4", "0", "2"}}}) {
        std::string err;
        auto g = compile(nlohmann::ordered_json::parse(c.schema), false, &err);
        ASSERT_TRUE(g) << c.schema << ": " << err;
        const auto schema = nlohmann::ordered_json::parse(c.schema);
        auto v = tf::jsonschema::Validator::compile(schema);
        ASSERT_TRUE(v.ok());
        for (const char* x : c.in) EXPECT_TRUE(matches(g, x)) << c.schema << " should allow " << x;
        for (const char* x : c.out) EXPECT_FALSE(matches(g, x)) << c.schema << " should refuse " << x;
        for (const char* x : c.in)
            EXPECT_TRUE(v->valid(nlohmann::ordered_json::parse(x))) << c.schema << ": test case " << x << " is wrong";
    }
}

TEST(JsonSchemaGrammar, compact_objects_required_optional_and_additional) {
    const auto schema = nlohmann::ordered_json::parse(R"({
      "type": "object",
      "properties": {"id": {"type": "string", "format": "uuid"}, "total": {"type": "number", "minimum": 0},
                     "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}, "minItems": 1},
                     "note": {"type": "string", "maxLength": 5}},
      "required": ["id", "lines"],
      "additionalProperties": false,
      "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}, "qty": {"type": "integer", "minimum": 1}}, "required": ["sku", "qty"]}}
    })");
    std::string err;
    auto g = compile(schema, false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"ABC-12","qty":3}]})"));
    // Members in the order the schema writes them, optional ones anywhere they belong.
    EXPECT_TRUE(matches(
        g,
        R"({"id":"12345678-1234-1234-1234-1234567890ab","total":12.5,"lines":[{"sku":"ABC-1","qty":1}],"note":"hi"})"));
    EXPECT_TRUE(
        matches(g, R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"ABC-1","qty":1}],"note":"hi"})"));
    EXPECT_FALSE(matches(
        g,
        R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"ABC-1","qty":1}],"total":12.5})"));  // order
    EXPECT_FALSE(matches(g, R"({"id":"x","lines":[{"sku":"ABC-12","qty":3}]})"));                             // uuid
    EXPECT_FALSE(matches(g, R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[]})"));  // minItems
    EXPECT_FALSE(
        matches(g, R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"AB-12","qty":3}]})"));  // pattern
    EXPECT_FALSE(
        matches(g, R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"ABC-12","qty":0}]})"));  // minimum
    EXPECT_FALSE(matches(
        g, R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"ABC-12","qty":3}],"x":1})"));  // additional
    EXPECT_FALSE(
        matches(g, R"({"id":"12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"ABC-12","qty":3}],"total":-1})"));
    EXPECT_FALSE(
        matches(g, R"({"id": "12345678-1234-1234-1234-1234567890ab","lines":[{"sku":"ABC-12","qty":3}]})"));  // compact
}

TEST(JsonSchemaGrammar, pathological_inputs_fail_cleanly_or_stay_bounded) {
    std::string err;
    // Deep nesting.
    std::string deep = "{\"type\":\"string\"}";
    for (int i = 0; i < 200; ++i) deep = "{\"type\":\"array\",\"items\":" + deep + "}";
    EXPECT_FALSE(compile(nlohmann::ordered_json::parse(deep), false, &err));
    EXPECT_NE(err.find("deeper than 64"), std::string::npos) << err;
    // A reference cycle through allOf.
    EXPECT_FALSE(
        compile(nlohmann::ordered_json::parse(R"({"allOf":[{"$ref":"#/$defs/a"}],"$defs":{"a":{"$ref":"#/$defs/a"}}})"),
                false, &err));
    // A huge enum compiles quickly.
    nlohmann::ordered_json big = {{"enum", nlohmann::ordered_json::array()}};
    for (int i = 0; i < 20000; ++i) big["enum"].push_back("value-" + std::to_string(i));
    const auto t0 = std::chrono::steady_clock::now();
    auto g = compile(big, false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
    EXPECT_TRUE(matches(g, "\"value-19999\""));
    // An "exponential" regex is just a grammar here, and deep groups are refused.
    EXPECT_TRUE(
        compile(nlohmann::ordered_json::parse(R"({"type":"string","pattern":"^(a|a)*(a|aa)+b$"})"), false, &err))
        << err;
    std::string groups = "^" + std::string(300, '(') + "a" + std::string(300, ')') + "$";
    EXPECT_FALSE(compile(nlohmann::ordered_json{{"type", "string"}, {"pattern", groups}}, false, &err));
    EXPECT_NE(err.find("nested deeper"), std::string::npos) << err;
    auto gbnf = tf::grammar::parse_gbnf("root ::= " + std::string(5000, '(') + "\"a\"" + std::string(5000, ')'));
    ASSERT_FALSE(gbnf.ok());
    EXPECT_NE(gbnf.error().message.find("nested deeper"), std::string::npos);
}

TEST(JsonSchemaGrammar, recursion_and_errors) {
    const auto tree = nlohmann::ordered_json::parse(
        R"({"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}}})");
    auto g = compile(tree, false);
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4}]}]})"));
    EXPECT_FALSE(matches(g, R"({"v":1,"kids":[{"w":2}]})"));
    std::string err;
    EXPECT_FALSE(
        compile(nlohmann::ordered_json::parse(R"({"type": "string", "uniqueItems": true, "not": {}})"), false, &err));
    EXPECT_NE(err.find("keyword 'not' is not supported"), std::string::npos) << err;
    EXPECT_FALSE(compile(nlohmann::ordered_json::parse(R"({"type": "kaboom"})"), false, &err));
    EXPECT_NE(err.find("unknown type 'kaboom'"), std::string::npos) << err;
    EXPECT_FALSE(compile(nlohmann::ordered_json::parse(R"({"$ref": "#/$defs/missing"})"), false, &err));
    EXPECT_NE(err.find("points nowhere"), std::string::npos) << err;
    EXPECT_FALSE(compile(nlohmann::ordered_json::parse(R"({"type": "string", "pattern": "(a)\\1"})"), false, &err));
    EXPECT_NE(err.find("backreferences"), std::string::npos) << err;
}

// minLength/maxLength beside a pattern that is one repeated class (MaskBench: such strings were
// let through at any length) are folded into the repetition.
TEST(JsonSchemaGrammar, lengths_bound_a_repeated_class_pattern) {
    std::string err;
    auto g = compile(
        nlohmann::ordered_json::parse(R"({"type":"string","pattern":"^[0-9a-z-]*$","minLength":4,"maxLength":6})"),
        false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, R"("ab-1")"));
    EXPECT_TRUE(matches(g, R"("abcdef")"));
    EXPECT_FALSE(matches(g, R"("abc")"));
    EXPECT_FALSE(matches(g, R"("abcdefg")"));
    EXPECT_FALSE(matches(g, R"("ABCD")"));
    auto d = compile(nlohmann::ordered_json::parse(R"({"type":"string","pattern":"^\\d{2,8}$","minLength":3})"), false,
                     &err);
    ASSERT_TRUE(d) << err;
    EXPECT_FALSE(matches(d, R"("12")"));
    EXPECT_TRUE(matches(d, R"("12345678")"));
    EXPECT_FALSE(matches(d, R"("123456789")"));
    EXPECT_FALSE(
        compile(nlohmann::ordered_json::parse(R"({"type":"string","pattern":"^\\d{3}$","maxLength":2})"), false, &err));
    EXPECT_NE(err.find("no string matches"), std::string::npos) << err;
    // Another shape: the pattern alone is followed (the validator checks the lengths).
    auto other =
        compile(nlohmann::ordered_json::parse(R"({"type":"string","pattern":"^a(b|c)*$","maxLength":2})"), false, &err);
    ASSERT_TRUE(other) << err;
    EXPECT_TRUE(matches(other, R"("abc")"));
}

// additionalProperties left out: only the listed properties by default, others too with
// open_objects (the specification's reading); an explicit false or schema decides either way.
TEST(JsonSchemaGrammar, open_objects_read_an_absent_additional_properties_as_the_specification) {
    auto build = [](const char* schema, bool open) {
        tf::jsonschema::GrammarOptions o;
        o.open_objects = open;
        auto text = tf::jsonschema::schema_to_gbnf(nlohmann::ordered_json::parse(schema), o);
        EXPECT_TRUE(text.ok());
        auto g = tf::grammar::parse_gbnf(*text);
        EXPECT_TRUE(g.ok());
        return std::make_shared<const Grammar>(std::move(g.value()));
    };
    const char* plain = R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})";
    EXPECT_FALSE(matches(build(plain, false), R"({"a":1,"zz":"x"})"));
    const auto open = build(plain, true);
    EXPECT_TRUE(matches(open, R"({"a":1,"zz":"x"})"));
    EXPECT_TRUE(matches(open, R"({"a":1})"));
    EXPECT_FALSE(matches(open, R"({"a":"1","zz":"x"})"));
    EXPECT_FALSE(matches(open, R"({"a":1,"a":2})"));  // a listed name is not an "other" property
    const auto closed =
        build(R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false})", true);
    EXPECT_FALSE(matches(closed, R"({"a":1,"zz":"x"})"));
}

// Dates exist on the calendar: the grammar and the validator know each month's length and the
// leap years (MaskBench labels 2020-02-31 invalid; both once took it).
TEST(JsonSchemaGrammar, dates_have_days_their_month_has) {
    std::string err;
    auto g = compile(nlohmann::ordered_json::parse(R"({"type":"string","format":"date"})"), false, &err);
    ASSERT_TRUE(g) << err;
    for (const char* ok : {R"("2022-12-31")", R"("2022-04-30")", R"("2024-02-29")", R"("2000-02-29")",
                           R"("1996-02-29")", R"("0000-02-29")", R"("2022-01-01")", R"("2023-02-28")"}) {
        EXPECT_TRUE(matches(g, ok)) << ok;
    }
    for (const char* bad :
         {R"("2022-04-31")", R"("2022-02-30")", R"("2022-11-31")", R"("2022-13-01")", R"("2022-00-10")",
          R"("2021-02-29")", R"("1900-02-29")", R"("2100-02-29")", R"("2022-02-29")"}) {
        EXPECT_FALSE(matches(g, bad)) << bad;
    }
    // Every year of four centuries: the grammar takes February 29 exactly when the validator does.
    tf::jsonschema::ValidatorOptions leap_vo;
    leap_vo.assert_formats = true;
    auto leap_v = tf::jsonschema::Validator::compile(
        nlohmann::ordered_json::parse(R"({"type":"string","format":"date"})"), leap_vo);
    ASSERT_TRUE(leap_v.ok());
    for (int y = 1600; y < 2000; ++y) {
        const std::string day = std::to_string(y) + "-02-29";  // four digits for 1600..1999
        EXPECT_EQ(matches(g, "\"" + day + "\""), leap_v->valid(day)) << day;
    }
    tf::jsonschema::ValidatorOptions vo;
    vo.assert_formats = true;
    auto v =
        tf::jsonschema::Validator::compile(nlohmann::ordered_json::parse(R"({"type":"string","format":"date"})"), vo);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->valid("2024-02-29"));
    EXPECT_TRUE(v->valid("2000-02-29"));
    EXPECT_FALSE(v->valid("2021-02-29"));
    EXPECT_FALSE(v->valid("1900-02-29"));
    EXPECT_FALSE(v->valid("2022-06-31"));
    auto dt = tf::jsonschema::Validator::compile(
        nlohmann::ordered_json::parse(R"({"type":"string","format":"date-time"})"), vo);
    ASSERT_TRUE(dt.ok());
    EXPECT_TRUE(dt->valid("2024-02-29T10:00:00Z"));
    EXPECT_FALSE(dt->valid("2023-02-29T10:00:00Z"));
}

// multipleOf the grammar spells: a power of ten below one as fraction digits (with or without
// bounds), an integer as the residues of the digits (without bounds), 1 as an integer.
TEST(JsonSchemaGrammar, multiple_of_spelled_out_where_the_grammar_can) {
    std::string err;
    auto cents = compile(nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":0.01})"), false, &err);
    ASSERT_TRUE(cents) << err;
    for (const char* ok : {"12", "12.5", "12.34", "-0.01", "0"}) EXPECT_TRUE(matches(cents, ok)) << ok;
    for (const char* bad : {"12.345", "1e3", "0.001"}) EXPECT_FALSE(matches(cents, bad)) << bad;
    auto bounded = compile(
        nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":0.1,"minimum":0,"maximum":5})"), false, &err);
    ASSERT_TRUE(bounded) << err;
    EXPECT_TRUE(matches(bounded, "4.5"));
    EXPECT_FALSE(matches(bounded, "4.55"));
    EXPECT_FALSE(matches(bounded, "5.5"));
    for (int k : {1, 2, 3, 7, 11, 25, 100}) {
        auto g = compile(nlohmann::ordered_json::parse(R"({"type":"integer","multipleOf":)" + std::to_string(k) + "}"),
                         false, &err);
        ASSERT_TRUE(g) << err;
        for (int64_t v = -300; v <= 300; ++v) {
            EXPECT_EQ(matches(g, std::to_string(v)), v % k == 0) << k << " " << v;
        }
        EXPECT_FALSE(matches(g, "007")) << k;
        EXPECT_EQ(matches(g, "123456789012"), 123456789012LL % k == 0) << k;
    }
    auto whole = compile(nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":1})"), false, &err);
    ASSERT_TRUE(whole) << err;
    EXPECT_TRUE(matches(whole, "-42"));
    EXPECT_TRUE(matches(whole, "10000.0"));
    EXPECT_FALSE(matches(whole, "4.2"));
    auto fives = compile(nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":5})"), false, &err);
    ASSERT_TRUE(fives) << err;
    EXPECT_TRUE(matches(fives, "25.00"));
    EXPECT_FALSE(matches(fives, "25.5"));
    EXPECT_FALSE(matches(fives, "26"));
    // Beside bounds, or a step the grammar cannot spell: the validator's (any number passes here).
    auto left = compile(nlohmann::ordered_json::parse(R"({"type":"integer","multipleOf":5,"minimum":0})"), false, &err);
    ASSERT_TRUE(left) << err;
    EXPECT_TRUE(matches(left, "7"));
    auto quarter = compile(nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":0.25})"), false, &err);
    ASSERT_TRUE(quarter) << err;
    EXPECT_TRUE(matches(quarter, "0.3"));
    EXPECT_FALSE(compile(nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":0})"), false, &err));
}

// minProperties 1 without a required property: not every member may be skipped.
TEST(JsonSchemaGrammar, min_properties_one_forbids_the_empty_object) {
    std::string err;
    auto g = compile(
        nlohmann::ordered_json::parse(
            R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"minProperties":1,"additionalProperties":false})"),
        false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_FALSE(matches(g, "{}"));
    EXPECT_TRUE(matches(g, R"({"a":1})"));
    EXPECT_TRUE(matches(g, R"({"b":"x"})"));
    EXPECT_TRUE(matches(g, R"({"a":1,"b":"x"})"));
    auto open = compile(nlohmann::ordered_json::parse(R"({"type":"object","minProperties":1})"), false, &err);
    ASSERT_TRUE(open) << err;
    EXPECT_FALSE(matches(open, "{}"));
    EXPECT_TRUE(matches(open, R"({"z":null})"));
    EXPECT_FALSE(compile(nlohmann::ordered_json::parse(
                             R"({"type":"object","properties":{},"additionalProperties":false,"minProperties":1})"),
                         false, &err));
    EXPECT_NE(err.find("accepts nothing"), std::string::npos) << err;
}

// A keyword in no JSON Schema vocabulary is an annotation (the specification has implementations
// ignore it): Kubernetes' x-kubernetes-…, draft-04's "id", generator hints. Real-world schemas
// are full of them (MaskBench: 3,300 of 11,305 schemas were refused for one).
TEST(JsonSchemaGrammar, keywords_of_no_vocabulary_are_annotations) {
    const auto s =
        nlohmann::ordered_json::parse(R"({"id": "http://x/y", "x-kubernetes-group-version-kind": [{"kind": "Pod"}],
        "javaType": "a.B", "type": "object", "properties": {"n": {"type": "integer", "example": 3, "readonly": true}},
        "required": ["n"]})");
    std::string err;
    auto g = compile(s, false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, R"({"n":3})"));
    EXPECT_FALSE(matches(g, R"({"n":"3"})"));
    EXPECT_FALSE(matches(g, R"({})"));
    // "$ref" beside an unknown keyword still resolves alone (nothing to merge).
    auto r = compile(
        nlohmann::ordered_json::parse(R"({"$defs": {"a": {"type": "boolean"}}, "$ref": "#/$defs/a", "x-note": 1})"),
        false, &err);
    ASSERT_TRUE(r) << err;
    EXPECT_TRUE(matches(r, "true"));
    EXPECT_FALSE(matches(r, "1"));
    // const and enum values obey the type; an optional property nothing satisfies is left out,
    // a required one makes the schema fail, also when a $ref seen before leads to it.
    auto e = compile(nlohmann::ordered_json::parse(R"({"$defs": {"never": {"type": "object", "enum": ["A", "B"]}},
        "type": "object", "properties": {"b": {"$ref": "#/$defs/never"}, "c": false, "n": {"type": "integer", "enum": [1, "1", 2.0, 2.5]}},
        "required": ["n"], "additionalProperties": false})"),
                     false, &err);
    ASSERT_TRUE(e) << err;
    EXPECT_TRUE(matches(e, R"({"n":1})"));
    EXPECT_TRUE(matches(e, R"({"n":2.0})"));
    EXPECT_FALSE(matches(e, R"({"n":"1"})"));
    EXPECT_FALSE(matches(e, R"({"n":2.5})"));
    EXPECT_FALSE(matches(e, R"({"b":"A","n":1})"));
    EXPECT_FALSE(matches(e, R"({"b":{},"n":1})"));
    EXPECT_FALSE(matches(e, R"({"c":1,"n":1})"));
    EXPECT_FALSE(compile(nlohmann::ordered_json::parse(R"({"$defs": {"never": {"type": "object", "enum": ["A"]}},
        "type": "object", "properties": {"a": {"$ref": "#/$defs/never"}, "b": {"$ref": "#/$defs/never"}}, "required": ["b"]})"),
                         false, &err));
    EXPECT_NE(err.find("accepts nothing"), std::string::npos) << err;
    // A vocabulary keyword the grammar cannot follow is still refused by name.
    for (const char* k : {"if", "patternProperties", "dependencies", "unevaluatedProperties"}) {
        nlohmann::ordered_json bad = {{"type", "object"}, {k, nlohmann::ordered_json::object()}};
        EXPECT_FALSE(compile(bad, false, &err)) << k;
        EXPECT_NE(err.find(std::string("keyword '") + k + "' is not supported"), std::string::npos) << err;
    }
}

// The benchmark's schemas (bench/schemas): each compiles, its example document is valid under
// the validator, and the compiled grammar accepts the document as the benchmark serializes it.
TEST(JsonSchemaBench, every_benchmark_schema_compiles_and_accepts_its_document) {
    const std::filesystem::path dir = std::filesystem::path(TF_SOURCE_DIR) / "bench" / "schemas";
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        ++n;
        std::ifstream f(entry.path());
        std::stringstream ss;
        ss << f.rdbuf();
        const auto j = nlohmann::ordered_json::parse(ss.str());
        const std::string name = entry.path().stem().string();
        auto v = tf::jsonschema::Validator::compile(j["schema"]);
        ASSERT_TRUE(v.ok()) << name << ": " << v.error().message;
        const auto errors = v->validate(j["instance"]);
        EXPECT_TRUE(errors.empty()) << name << ": the example document is not valid (" << errors.size() << " errors)";
        auto gbnf = tf::jsonschema::schema_to_gbnf(j["schema"]);
        ASSERT_TRUE(gbnf.ok()) << name << ": " << gbnf.error().message;
        auto g = tf::grammar::parse_gbnf(*gbnf);
        ASSERT_TRUE(g.ok()) << name << ": " << g.error().message;
        Matcher m(std::make_shared<const Grammar>(std::move(g.value())));
        EXPECT_TRUE(m.accept(j["instance"].dump(-1, ' ', false)) && m.can_end()) << name;
    }
    EXPECT_GE(n, 20u);
}

// What the grammar does not hold exactly is reported as a gap naming the keyword and where it
// stands in the schema (a JSON pointer), never silently: the validator then checks it.
TEST(JsonSchemaGrammar, gaps_name_the_keyword_and_its_pointer) {
    auto gaps_of = [](const char* schema, bool ignore = false) {
        std::vector<tf::jsonschema::SchemaGap> gaps;
        tf::jsonschema::GrammarOptions o;
        o.ignore_unsupported = ignore;
        o.gap = [&](const tf::jsonschema::SchemaGap& g) { gaps.push_back(g); };
        auto text = tf::jsonschema::schema_to_gbnf(nlohmann::ordered_json::parse(schema), o);
        EXPECT_TRUE(text.ok()) << (text.ok() ? "" : text.error().message);
        return gaps;
    };
    auto g = gaps_of(
        R"({"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"},"uniqueItems":true}}})");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].keyword, "uniqueItems");
    EXPECT_EQ(g[0].pointer, "/properties/tags");
    EXPECT_EQ(g[0].kind, tf::jsonschema::SchemaGap::Kind::Validated);

    g = gaps_of(R"({"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":1000,"multipleOf":7}}})");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].keyword, "multipleOf");
    EXPECT_EQ(g[0].pointer, "/properties/n");

    g = gaps_of(R"({"oneOf":[{"type":"integer"},{"type":"number"}]})");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].keyword, "oneOf");

    g = gaps_of(
        R"({"$defs":{"x":{"type":"array","items":{"not":{"const":1}}}},"type":"object","properties":{"a":{"$ref":"#/$defs/x"}}})",
        true);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].keyword, "not");
    EXPECT_EQ(g[0].pointer, "/$defs/x/items");
    EXPECT_EQ(g[0].kind, tf::jsonschema::SchemaGap::Kind::Ignored);

    // Without ignoring, the error names the pointer too.
    auto refused = tf::jsonschema::schema_to_gbnf(
        nlohmann::ordered_json::parse(R"({"type":"object","properties":{"a/b":{"not":{"type":"null"}}}})"));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("'not'"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("/properties/a~1b"), std::string::npos) << refused.error().message;

    // Exact schemas have none.
    EXPECT_TRUE(
        gaps_of(
            R"({"type":"object","properties":{"d":{"type":"string","format":"date"},"n":{"type":"integer","minimum":1}},"required":["d"]})")
            .empty());
}

// allOf and $ref with siblings are the intersection of both sides: the tighter bound, both
// property sets, both required lists; a property one side forbids is gone.
TEST(JsonSchemaGrammar, allof_and_ref_siblings_intersect) {
    std::string err;
    // A $ref'd maximum of 1000000 beside a local maximum of 100: 100 holds.
    auto g = compile(
        nlohmann::ordered_json::parse(
            R"({"$defs":{"amount":{"type":"integer","minimum":0,"maximum":1000000}},"$ref":"#/$defs/amount","maximum":100})"),
        false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, "100"));
    EXPECT_TRUE(matches(g, "0"));
    EXPECT_FALSE(matches(g, "101"));
    EXPECT_FALSE(matches(g, "-1"));
    // The other order: the local bound is the looser one.
    g = compile(
        nlohmann::ordered_json::parse(
            R"({"$defs":{"small":{"type":"integer","maximum":10}},"$ref":"#/$defs/small","maximum":100,"minimum":5})"),
        false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, "10"));
    EXPECT_FALSE(matches(g, "11"));
    EXPECT_FALSE(matches(g, "4"));
    // allOf: both property sets and both required lists; a shared property under both schemas.
    g = compile(nlohmann::ordered_json::parse(R"({"allOf":[
        {"type":"object","properties":{"a":{"type":"integer","minimum":0},"b":{"type":"string"}},"required":["a"]},
        {"type":"object","properties":{"a":{"type":"integer","maximum":9},"c":{"type":"boolean"}},"required":["c"]}]})"),
                false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, R"({"a":5,"c":true})"));
    EXPECT_TRUE(matches(g, R"({"a":5,"b":"x","c":true})"));
    EXPECT_FALSE(matches(g, R"({"a":10,"c":true})"));
    EXPECT_FALSE(matches(g, R"({"a":5})"));
    // One side allows nothing beyond its own properties: the other side's extra one is gone.
    g = compile(nlohmann::ordered_json::parse(R"({"allOf":[
        {"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false},
        {"type":"object","properties":{"b":{"type":"integer"}}}]})"),
                false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, R"({"a":1})"));
    EXPECT_FALSE(matches(g, R"({"a":1,"b":2})"));
    auto v = tf::jsonschema::Validator::compile(nlohmann::ordered_json::parse(R"({"allOf":[
        {"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false},
        {"type":"object","properties":{"b":{"type":"integer"}}}]})"));
    ASSERT_TRUE(v.ok());
    EXPECT_FALSE(v->valid(nlohmann::ordered_json::parse(R"({"a":1,"b":2})")));
    // Types and enums intersect; nothing in common is an error naming it.
    g = compile(nlohmann::ordered_json::parse(
                    R"({"allOf":[{"type":["integer","string"]},{"type":"number","maximum":3,"minimum":1}]})"),
                false, &err);
    ASSERT_TRUE(g) << err;
    EXPECT_TRUE(matches(g, "2"));
    EXPECT_FALSE(matches(g, "\"x\""));
    EXPECT_FALSE(matches(g, "2.5"));
    EXPECT_FALSE(
        compile(nlohmann::ordered_json::parse(R"({"allOf":[{"enum":["a","b"]},{"enum":["c"]}]})"), false, &err));
    EXPECT_NE(err.find("accepts nothing"), std::string::npos) << err;
}

// With open objects, a property no value satisfies is absent — not allowed back in as an
// "additional" property with any value.
TEST(JsonSchemaGrammar, an_unsatisfiable_optional_property_is_never_a_free_key) {
    tf::jsonschema::GrammarOptions o;
    o.open_objects = true;
    auto text = tf::jsonschema::schema_to_gbnf(
        nlohmann::ordered_json::parse(
            R"({"type":"object","properties":{"a":{"type":"integer"},"x":{"type":"string","enum":[1,2]}}})"),
        o);
    ASSERT_TRUE(text.ok()) << text.error().message;
    auto g = tf::grammar::parse_gbnf(*text);
    ASSERT_TRUE(g.ok());
    auto grammar = std::make_shared<const Grammar>(std::move(g.value()));
    EXPECT_TRUE(matches(grammar, R"({"a":1,"y":"free"})"));
    EXPECT_FALSE(matches(grammar, R"({"a":1,"x":"free"})"));
    EXPECT_FALSE(matches(grammar, R"({"x":1})"));
}

// format "uri" as RFC 3986 has it, alike in the grammar and the validator: no '<', no stray
// '%', one fragment.
TEST(JsonSchemaGrammar, uri_format_holds_to_rfc_3986) {
    std::string err;
    auto g = compile(nlohmann::ordered_json::parse(R"({"type":"string","format":"uri"})"), false, &err);
    ASSERT_TRUE(g) << err;
    tf::jsonschema::ValidatorOptions vo;
    vo.assert_formats = true;
    auto v =
        tf::jsonschema::Validator::compile(nlohmann::ordered_json::parse(R"({"type":"string","format":"uri"})"), vo);
    ASSERT_TRUE(v.ok());
    for (const char* ok : {"http://example.com/a?b=c#frag", "mailto:someone@example.org", "urn:isbn:0451450523",
                           "https://x.org/%20y", "ftp://user:pw@host:21/path;x=1"}) {
        EXPECT_TRUE(matches(g, std::string("\"") + ok + "\"")) << ok;
        EXPECT_TRUE(v->valid(std::string(ok))) << ok;
    }
    for (const char* bad : {"a:b<c>", "http://x/%zz", "http://x/a#b#c", "no-scheme", "http://x y", "1http://x"}) {
        EXPECT_FALSE(matches(g, std::string("\"") + bad + "\"")) << bad;
        EXPECT_FALSE(v->valid(std::string(bad))) << bad;
    }
    EXPECT_TRUE(v->valid(std::string("http://[::1]:8080/")));
}

}  // namespace

namespace {

// uniqueItems over a small finite set of values (an enum, booleans) is exact in the grammar: a
// state per set of values used, so no duplicate can be written, and no gap is reported.
TEST(JsonSchemaGrammar, unique_items_over_an_enum_are_exact) {
    std::vector<tf::jsonschema::SchemaGap> gaps;
    tf::jsonschema::GrammarOptions o;
    o.gap = [&](const tf::jsonschema::SchemaGap& g) { gaps.push_back(g); };
    auto text = tf::jsonschema::schema_to_gbnf(
        nlohmann::ordered_json::parse(
            R"({"type":"array","items":{"enum":["red","green","blue",1]},"minItems":2,"maxItems":3,"uniqueItems":true})"),
        o);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_TRUE(gaps.empty());
    auto g = tf::grammar::parse_gbnf(*text);
    ASSERT_TRUE(g.ok()) << g.error().message << "\n" << *text;
    auto grammar = std::make_shared<const Grammar>(std::move(g.value()));
    for (const char* ok : {R"(["red","green"])", R"(["blue","red",1])", R"([1,"green"])", R"([1.0,"green"])"})
        EXPECT_TRUE(matches(grammar, ok)) << ok;
    for (const char* bad :
         {R"(["red","red"])", R"(["red"])", R"(["red","green","blue",1])", R"([1,"red",1.0])", R"([])"}) {
        EXPECT_FALSE(matches(grammar, bad)) << bad;
    }
    auto b = compile(nlohmann::ordered_json::parse(R"({"type":"array","items":{"type":"boolean"},"uniqueItems":true})"),
                     true);
    ASSERT_TRUE(b);
    for (const char* ok : {"[]", "[true]", "[ false , true ]"}) EXPECT_TRUE(matches(b, ok)) << ok;
    EXPECT_FALSE(matches(b, "[true,true]"));
    EXPECT_FALSE(matches(b, "[true,false,true]"));
}

}  // namespace

namespace {

// oneOf is exact where its branches can be told apart — a tagged union, branches of different
// types, overlapping enums narrowed, object branches kept apart by the keys the others
// require — and everything the grammar then writes satisfies exactly one branch.
TEST(JsonSchemaGrammar, one_of_is_exact_when_its_branches_are_exclusive) {
    struct Case {
        const char* schema;
        std::vector<const char*> good;  // valid: the grammar writes them
        std::vector<const char*> bad;   // matching two branches (or none): the grammar cannot
    };
    const std::vector<Case> cases = {
        {R"({"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind","x"]},
                      {"type":"object","properties":{"kind":{"const":"b"},"y":{"type":"string"}},"required":["kind"]}]})",
         {R"({"kind":"a","x":1})", R"({"kind":"b","y":"s"})"},
         {R"({"kind":"c"})"}},
        {R"({"type":"object","properties":{"h":{"oneOf":[{"type":"null"},{"type":"array","items":{"type":"integer"}}]}},"required":["h"]})",
         {R"({"h":null})", R"({"h":[1,2]})"},
         {R"({"h":"x"})"}},
        {R"({"$defs":{"e":{"enum":["red","orange",6]}},"oneOf":[{"$ref":"#/$defs/e"},{"enum":["blue","orange",6,3]}]})",
         {R"("red")", R"("blue")", R"(3)"},
         {R"("orange")", R"(6)"}},
        {R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"integer"}},
             "oneOf":[{"required":["a"]},{"required":["b"]}]})",
         {R"({"a":"x"})", R"({"b":"y","c":1})"},
         {R"({"a":"x","b":"y"})", R"({"c":1})"}},
    };
    for (const auto& c : cases) {
        const auto schema = nlohmann::ordered_json::parse(c.schema);
        std::vector<tf::jsonschema::SchemaGap> gaps;
        tf::jsonschema::GrammarOptions o;
        o.gap = [&](const tf::jsonschema::SchemaGap& g) { gaps.push_back(g); };
        auto text = tf::jsonschema::schema_to_gbnf(schema, o);
        ASSERT_TRUE(text.ok()) << c.schema << ": " << text.error().message;
        EXPECT_TRUE(gaps.empty()) << c.schema << ": " << (gaps.empty() ? "" : gaps[0].keyword + " " + gaps[0].why);
        auto g = tf::grammar::parse_gbnf(*text);
        ASSERT_TRUE(g.ok()) << g.error().message;
        auto grammar = std::make_shared<const Grammar>(std::move(g.value()));
        auto v = tf::jsonschema::Validator::compile(schema);
        ASSERT_TRUE(v.ok());
        for (const char* ok : c.good) {
            EXPECT_TRUE(v->valid(nlohmann::ordered_json::parse(ok))) << ok;
            EXPECT_TRUE(matches(grammar, ok)) << c.schema << " refuses " << ok;
        }
        for (const char* bad : c.bad) {
            EXPECT_FALSE(v->valid(nlohmann::ordered_json::parse(bad))) << bad;
            EXPECT_FALSE(matches(grammar, bad)) << c.schema << " lets through " << bad;
        }
    }
    // Overlapping branches the grammar cannot tell apart stay a reported gap.
    std::vector<tf::jsonschema::SchemaGap> gaps;
    tf::jsonschema::GrammarOptions o;
    o.gap = [&](const tf::jsonschema::SchemaGap& g) { gaps.push_back(g); };
    ASSERT_TRUE(tf::jsonschema::schema_to_gbnf(
                    nlohmann::ordered_json::parse(
                        R"({"oneOf":[{"type":"integer","maximum":5},{"type":"integer","minimum":3}]})"),
                    o)
                    .ok());
    ASSERT_EQ(gaps.size(), 1u);
    EXPECT_EQ(gaps[0].keyword, "oneOf");
}

}  // namespace

namespace {

// minLength/maxLength beside a pattern or format whose strings all have an allowed length are
// implied, so no gap; a bound the pattern's strings can break stays the validator's.
TEST(JsonSchemaGrammar, lengths_implied_by_a_pattern_or_format_are_no_gap) {
    auto gap_count = [](const char* schema) {
        size_t n = 0;
        tf::jsonschema::GrammarOptions o;
        o.gap = [&](const tf::jsonschema::SchemaGap&) { ++n; };
        auto text = tf::jsonschema::schema_to_gbnf(nlohmann::ordered_json::parse(schema), o);
        EXPECT_TRUE(text.ok()) << schema;
        return n;
    };
    EXPECT_EQ(
        gap_count(
            R"({"type":"string","pattern":"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$","minLength":36,"maxLength":36})"),
        0u);
    EXPECT_EQ(gap_count(R"({"type":"string","pattern":"^([0-9a-f]{2}:){5}[0-9a-f]{2}$","minLength":1})"), 0u);
    EXPECT_EQ(gap_count(R"({"type":"string","pattern":"^(ab|c)?x{2,3}$","maxLength":5})"), 0u);
    EXPECT_EQ(gap_count(R"({"type":"string","format":"email","minLength":2})"), 0u);
    EXPECT_EQ(gap_count(R"({"type":"string","format":"date","maxLength":10})"), 0u);
    EXPECT_EQ(gap_count(R"({"type":"string","pattern":"^(ab|c)?x{2,3}$","maxLength":4})"), 1u);
    EXPECT_EQ(gap_count(R"({"type":"string","pattern":"^[a-z]{2}","maxLength":8})"), 1u);  // not anchored at the end
    EXPECT_EQ(gap_count(R"({"type":"string","pattern":"^a.b$","minLength":3})"),
              1u);  // '.' may be half a surrogate pair
    EXPECT_EQ(gap_count(R"({"type":"string","format":"date-time","maxLength":30})"), 1u);
}

}  // namespace
