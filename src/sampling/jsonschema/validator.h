// Validating JSON documents against a JSON Schema (draft 2020-12, and draft-07's array form of
// items/additionalItems): the check every extracted document passes before it is reported,
// covering what the grammar cannot say (uniqueItems, number bounds, multipleOf, not, if/then/
// else, …). Errors name the instance location and the keyword.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/result.h"

namespace tf::jsonschema {

struct ValidationError {
    std::string instance_path;  // JSON pointer into the document, "" for the root
    std::string keyword;
    std::string message;
};

struct ValidatorOptions {
    bool assert_formats = false;  // 2020-12 treats "format" as an annotation unless asked
    size_t max_errors = 32;
};

class Validator {
  public:
    // Fails on schemas it cannot use: not an object or boolean, a $ref it cannot resolve, an
    // invalid regular expression.
    static Result<Validator> compile(nlohmann::ordered_json schema, const ValidatorOptions& options = {});

    std::vector<ValidationError> validate(const nlohmann::ordered_json& instance) const;
    bool valid(const nlohmann::ordered_json& instance) const { return validate(instance).empty(); }

  private:
    nlohmann::ordered_json schema_;
    ValidatorOptions options_;
};

}  // namespace tf::jsonschema
