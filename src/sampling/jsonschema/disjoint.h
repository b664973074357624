// Proving oneOf's branches exclusive: when no value the grammar makes for one branch is valid
// against another, "exactly one" reduces to "at least one" and the grammar is exact for oneOf
// — the common tagged union ({"kind": {"const": "a"}} vs {"kind": {"const": "b"}}), branches of
// different types, closed objects with different required keys.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tf::jsonschema {

// Resolves a local "$ref" to the schema it names; nullptr when it cannot.
using RefResolver = std::function<const nlohmann::ordered_json*(const std::string&)>;

struct DisjointOptions {
    bool open_objects = false;  // the grammar's reading of an object without additionalProperties
};

// True only when proven: no value the grammar compiles `made` into is valid against `against`
// as the validator reads it. False means "not proven", never "they overlap".
bool never_valid_against(const nlohmann::ordered_json& made, const nlohmann::ordered_json& against,
                         const RefResolver& resolve, const DisjointOptions& options);

// oneOf's branches as the grammar compiles them (`made`, the branch merged with its parent's
// other keywords) and as the validator reads them (`against`): every value made for one branch
// is proven invalid against every other.
bool branches_exclusive(const std::vector<nlohmann::ordered_json>& made, const nlohmann::ordered_json& against,
                        const RefResolver& resolve, const DisjointOptions& options);

// Narrows oneOf's branches (as the grammar compiles them) until they are exclusive: a branch of
// const/enum values keeps those the other branches surely refuse (dropped when none is left);
// an object branch stops writing one key that another branch requires and it does not
// ({"required": ["a"]} vs {"required": ["b"]}: the first never writes "b", the second never
// "a"). Narrower than the schema (an instance with both keys matching only one branch is
// lost), never wider. Returns the indices of the branches kept, or nullopt, changing nothing,
// when it cannot make them exclusive.
std::optional<std::vector<size_t>> make_exclusive(std::vector<nlohmann::ordered_json>& made,
                                                  const nlohmann::ordered_json& against, const RefResolver& resolve,
                                                  const DisjointOptions& options);

}  // namespace tf::jsonschema
