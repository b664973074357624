// A JSON schema compiled to a shared mask cache over a tokenizer's vocabulary, and the small
// invoice schema the engine tests constrain answers with.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "tokenizer/tokenizer.h"

namespace tf::test {

inline nlohmann::ordered_json invoice_schema() {
    return nlohmann::ordered_json::parse(
        R"({"type":"object","properties":{"customer_name":{"type":"string","maxLength":12},"invoice_number":{"type":"integer"},)"
        R"("status":{"enum":["paid","open","overdue"]}},"required":["customer_name","invoice_number","status"],"additionalProperties":false})");
}

// Null (with a test failure) when the schema does not compile.
inline std::shared_ptr<tf::grammar::MaskCache> schema_mask_cache(const nlohmann::ordered_json& schema, const tf::tok::Tokenizer& tok) {
    auto gbnf = tf::jsonschema::schema_to_gbnf(schema);
    EXPECT_TRUE(gbnf.ok());
    if (!gbnf.ok()) return nullptr;
    auto parsed = tf::grammar::parse_gbnf(*gbnf);
    EXPECT_TRUE(parsed.ok());
    if (!parsed.ok()) return nullptr;
    return std::make_shared<tf::grammar::MaskCache>(std::make_shared<const tf::grammar::Grammar>(std::move(parsed.value())),
                                                    std::make_shared<const tf::grammar::TokenTrie>(tok));
}

}  // namespace tf::test
