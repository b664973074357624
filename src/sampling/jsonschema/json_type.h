// JSON Schema's "type" keyword on an instance: the one reading the validator and the grammar
// compiler share (1.0 is an integer; "type" may list several names).
#pragma once

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

namespace tf::jsonschema {

inline bool is_type(const nlohmann::ordered_json& v, const std::string& t) {
    if (t == "null") return v.is_null();
    if (t == "boolean") return v.is_boolean();
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer") {
        if (v.is_number_integer()) return true;
        if (v.is_number_float()) {
            const double d = v.get<double>();
            return std::isfinite(d) && std::floor(d) == d;
        }
        return false;
    }
    return false;
}

// v is of one of the types `type` names (a name or an array of names).
inline bool of_type(const nlohmann::ordered_json& v, const nlohmann::ordered_json& type) {
    if (type.is_string()) return is_type(v, type.get<std::string>());
    if (!type.is_array()) return false;
    return std::any_of(type.begin(), type.end(), [&](const nlohmann::ordered_json& t) { return t.is_string() && is_type(v, t.get<std::string>()); });
}

}  // namespace tf::jsonschema
