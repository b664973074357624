#include "sampling/jsonschema/disjoint.h"

#include <algorithm>
#include <optional>
#include <set>

#include "sampling/jsonschema/json_type.h"

namespace tf::jsonschema {

namespace {

using json = nlohmann::ordered_json;

// JSON types as bits; integer and number share one (1 and 1.0 are both integers).
constexpr unsigned kNull = 1, kBool = 2, kNum = 4, kStr = 8, kArr = 16, kObj = 32, kAll = 63;
constexpr int kMaxDepth = 24;  // $ref cycles and deep nesting end in "not proven"

unsigned type_name_bits(const std::string& t) {
    if (t == "null") return kNull;
    if (t == "boolean") return kBool;
    if (t == "integer" || t == "number") return kNum;
    if (t == "string") return kStr;
    if (t == "array") return kArr;
    if (t == "object") return kObj;
    return 0;
}

unsigned type_bits(const json& t) {
    if (t.is_string()) return type_name_bits(t.get<std::string>());
    if (!t.is_array()) return kAll;
    unsigned b = 0;
    for (const auto& x : t) b |= x.is_string() ? type_name_bits(x.get<std::string>()) : 0;
    return b;
}

unsigned value_bits(const json& v) {
    if (v.is_null()) return kNull;
    if (v.is_boolean()) return kBool;
    if (v.is_number()) return kNum;
    if (v.is_string()) return kStr;
    if (v.is_array()) return kArr;
    return kObj;
}

// Keywords that never change what a schema accepts: a $ref beside only these is the target.
bool only_ref(const json& s) {
    static const std::set<std::string> kInert = {"$ref", "title",   "description", "$comment", "default",  "examples",
                                                 "$id",  "$schema", "deprecated",  "readOnly", "writeOnly"};
    for (auto it = s.begin(); it != s.end(); ++it) {
        if (!kInert.count(it.key())) return false;
    }
    return true;
}

bool number_within(double v, const json& s) {
    auto num = [&](const char* k) { return s.contains(k) && s[k].is_number(); };
    if (num("minimum") && v < s["minimum"].get<double>()) return false;
    if (num("maximum") && v > s["maximum"].get<double>()) return false;
    if (num("exclusiveMinimum") && v <= s["exclusiveMinimum"].get<double>()) return false;
    if (num("exclusiveMaximum") && v >= s["exclusiveMaximum"].get<double>()) return false;
    return true;
}

class Prover {
  public:
    Prover(const RefResolver& resolve, const DisjointOptions& o) : resolve_(resolve), o_(o) {}

    // True only when proven: no value the grammar makes for `made` is valid against `against`.
    bool never_valid(const json& made, const json& against, int depth) const {
        if (depth > kMaxDepth) return false;
        if (against.is_boolean()) return !against.get<bool>();
        if (made.is_boolean()) return !made.get<bool>();
        if (!made.is_object() || !against.is_object()) return false;
        if ((made_types(made, depth) & valid_types(against, depth)) == 0) return true;

        const json* a = follow(&made, depth);
        if (!a) return false;
        if (const auto values = literals(*a, depth)) {
            return std::none_of(values->begin(), values->end(),
                                [&](const json& v) { return may_accept(against, v, depth + 1); });
        }
        // The validator applies every keyword: failing one part fails the whole.
        if (against.contains("$ref") && against["$ref"].is_string()) {
            const json* t = resolve_(against["$ref"].get<std::string>());
            if (t && never_valid(made, *t, depth + 1)) return true;
        }
        if (against.contains("allOf") && against["allOf"].is_array()) {
            for (const auto& sub : against["allOf"]) {
                if (never_valid(made, sub, depth + 1)) return true;
            }
        }
        for (const char* k : {"anyOf", "oneOf"}) {
            if (!against.contains(k) || !against[k].is_array() || against[k].empty()) continue;
            const bool all = std::all_of(against[k].begin(), against[k].end(),
                                         [&](const json& sub) { return never_valid(made, sub, depth + 1); });
            if (all) return true;
        }
        // Only a schema the compiler reads as one object rule: a merge (allOf, a $ref beside
        // other keywords, a union) may write keys its top level does not list.
        const bool plain =
            !a->contains("allOf") && !a->contains("anyOf") && !a->contains("oneOf") && !a->contains("$ref");
        if (plain && made_types(*a, depth) == kObj && (valid_types(against, depth) & kObj))
            return objects_apart(*a, against, depth);
        return false;
    }

    // A schema the grammar compiles as its $ref's target.
    const json* follow(const json* s, int& depth) const {
        while (s->is_object() && s->contains("$ref") && (*s)["$ref"].is_string() && only_ref(*s)) {
            if (++depth > kMaxDepth) return nullptr;
            s = resolve_((*s)["$ref"].get<std::string>());
            if (!s) return nullptr;
        }
        return s;
    }

    // The types the validator may accept (a superset).
    unsigned valid_types(const json& s, int depth) const {
        if (s.is_boolean()) return s.get<bool>() ? kAll : 0;
        if (!s.is_object() || depth > kMaxDepth) return kAll;
        unsigned r = kAll;
        if (s.contains("type")) r &= type_bits(s["type"]);
        if (s.contains("const")) r &= value_bits(s["const"]);
        if (s.contains("enum") && s["enum"].is_array()) {
            unsigned e = 0;
            for (const auto& v : s["enum"]) e |= value_bits(v);
            r &= e;
        }
        if (s.contains("$ref") && s["$ref"].is_string()) {
            if (const json* t = resolve_(s["$ref"].get<std::string>())) r &= valid_types(*t, depth + 1);
        }
        if (s.contains("allOf") && s["allOf"].is_array()) {
            for (const auto& sub : s["allOf"]) r &= valid_types(sub, depth + 1);
        }
        for (const char* k : {"anyOf", "oneOf"}) {
            if (!s.contains(k) || !s[k].is_array()) continue;
            unsigned any = 0;
            for (const auto& sub : s[k]) any |= valid_types(sub, depth + 1);
            r &= any;
        }
        return r;
    }

    // The types the grammar may make (a superset): the valid ones, narrowed by the compiler's
    // reading of a schema without "type" (properties → an object, pattern → a string, …).
    unsigned made_types(const json& s, int depth) const {
        unsigned r = valid_types(s, depth);
        if (!s.is_object() || s.contains("type") || s.contains("$ref") || s.contains("const") || s.contains("enum") ||
            s.contains("allOf"))
            return r;
        for (const char* k : {"anyOf", "oneOf"}) {
            if (!s.contains(k) || !s[k].is_array()) continue;
            unsigned any = 0;
            for (const auto& sub : s[k]) any |= made_types(sub, depth + 1);
            return r & any;
        }
        if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) return r & kObj;
        if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") || s.contains("maxItems"))
            return r & kArr;
        if (s.contains("pattern") || s.contains("format") || s.contains("minLength") || s.contains("maxLength"))
            return r & kStr;
        return r;
    }

    // The values of a const or enum the grammar makes (those of the schema's type). Under
    // allOf, whose parts the compiler intersects, one part's values are a superset.
    std::optional<std::vector<json>> literals(const json& s, int depth) const {
        std::vector<json> out;
        auto keep = [&](const json& v) {
            if (!s.contains("type") || of_type(v, s["type"])) out.push_back(v);
        };
        if (s.contains("const"))
            keep(s["const"]);
        else if (s.contains("enum") && s["enum"].is_array()) {
            for (const auto& v : s["enum"]) keep(v);
        } else if (s.contains("allOf") && s["allOf"].is_array() && depth <= kMaxDepth) {
            for (const auto& sub : s["allOf"]) {
                int d = depth + 1;
                const json* part = follow(&sub, d);
                if (!part || !part->is_object()) continue;
                if (auto values = literals(*part, d)) {
                    for (const auto& v : *values) keep(v);
                    return out;
                }
            }
            return std::nullopt;
        } else
            return std::nullopt;
        return out;
    }

    // Whether the validator may accept v (false only when it surely refuses it).
    bool may_accept(const json& s, const json& v, int depth) const {
        if (s.is_boolean()) return s.get<bool>();
        if (!s.is_object() || depth > kMaxDepth) return true;
        if (s.contains("type") && !of_type(v, s["type"])) return false;
        if (s.contains("const") && !(s["const"] == v)) return false;
        if (s.contains("enum") && s["enum"].is_array() &&
            std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end())
            return false;
        if (s.contains("$ref") && s["$ref"].is_string()) {
            const json* t = resolve_(s["$ref"].get<std::string>());
            if (t && !may_accept(*t, v, depth + 1)) return false;
        }
        if (s.contains("allOf") && s["allOf"].is_array()) {
            for (const auto& sub : s["allOf"]) {
                if (!may_accept(sub, v, depth + 1)) return false;
            }
        }
        for (const char* k : {"anyOf", "oneOf"}) {
            if (!s.contains(k) || !s[k].is_array()) continue;
            if (std::none_of(s[k].begin(), s[k].end(), [&](const json& sub) { return may_accept(sub, v, depth + 1); }))
                return false;
        }
        if (v.is_number() && !number_within(v.get<double>(), s)) return false;
        if (v.is_object()) {
            const json* props = s.contains("properties") && s["properties"].is_object() ? &s["properties"] : nullptr;
            if (s.contains("required") && s["required"].is_array()) {
                for (const auto& r : s["required"]) {
                    if (r.is_string() && !v.contains(r.get<std::string>())) return false;
                }
            }
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (props && props->contains(it.key())) {
                    if (!may_accept((*props)[it.key()], *it, depth + 1)) return false;
                } else if (!s.contains("patternProperties") && s.contains("additionalProperties") &&
                           !may_accept(s["additionalProperties"], *it, depth + 1)) {
                    return false;
                }
            }
        }
        return true;
    }

  private:
    // Two object schemas: a key `made` always writes whose value `against` refuses, or a key
    // `against` requires that `made` never writes.
    bool objects_apart(const json& made, const json& against, int depth) const {
        static const json kAny = true;
        const json& a_props =
            made.contains("properties") && made["properties"].is_object() ? made["properties"] : json::object();
        const json b_props = against.contains("properties") && against["properties"].is_object() ? against["properties"]
                                                                                                 : json::object();
        std::set<std::string> a_required;
        if (made.contains("required") && made["required"].is_array()) {
            for (const auto& r : made["required"]) {
                if (r.is_string()) a_required.insert(r.get<std::string>());
            }
        }
        for (const auto& p : a_required) {
            const json& value = a_props.contains(p) ? a_props[p] : kAny;
            if (b_props.contains(p)) {
                if (never_valid(value, b_props[p], depth + 1)) return true;
            } else if (!against.contains("patternProperties") && against.contains("additionalProperties")) {
                if (never_valid(value, against["additionalProperties"], depth + 1)) return true;
            }
        }
        if (against.contains("required") && against["required"].is_array()) {
            const json ap = made.contains("additionalProperties")
                                ? made["additionalProperties"]
                                : json(o_.open_objects || !made.contains("properties"));
            const bool no_extra_keys = ap.is_boolean() && !ap.get<bool>();
            for (const auto& q : against["required"]) {
                if (!q.is_string()) continue;
                const std::string key = q.get<std::string>();
                if (a_required.count(key)) continue;
                // A property no value satisfies is never written, not even as an extra key.
                if (a_props.contains(key) ? a_props[key] == json(false) : no_extra_keys) return true;
            }
        }
        return false;
    }

    const RefResolver& resolve_;
    DisjointOptions o_;
};

std::vector<std::string> required_of(const json& s) {
    std::vector<std::string> out;
    if (s.is_object() && s.contains("required") && s["required"].is_array()) {
        for (const auto& r : s["required"]) {
            if (r.is_string()) out.push_back(r.get<std::string>());
        }
    }
    return out;
}

}  // namespace

bool plain_object(const json& m) {
    if (!m.is_object() || m.contains("allOf") || m.contains("anyOf") || m.contains("oneOf") || m.contains("$ref") ||
        m.contains("const") || m.contains("enum") || m.contains("patternProperties"))
        return false;
    if (m.contains("type") && m["type"] != json("object")) return false;
    if (m.contains("properties") && !m["properties"].is_object()) return false;
    return m.contains("type") || m.contains("properties") || m.contains("required") ||
           m.contains("additionalProperties");
}

std::optional<std::vector<size_t>> make_exclusive(std::vector<json>& made, const json& against,
                                                  const RefResolver& resolve, const DisjointOptions& options) {
    if (!against.is_array() || against.size() != made.size()) return std::nullopt;
    const Prover prover(resolve, options);
    std::vector<json> out = made;
    std::vector<bool> dropped(made.size(), false);
    for (size_t i = 0; i < made.size(); ++i) {
        for (size_t j = 0; j < made.size(); ++j) {
            if (i == j || prover.never_valid(out[i], against[j], 0)) continue;
            int depth = 0;
            const json* m = prover.follow(&out[i], depth);
            if (!m) return std::nullopt;
            if (auto values = prover.literals(*m, depth)) {
                // Keep the values branch j surely refuses; a branch left with none is dropped.
                json kept = json::array();
                for (const auto& v : *values) {
                    if (!prover.may_accept(against[j], v, 0)) kept.push_back(v);
                }
                if (kept.empty()) {
                    dropped[i] = true;
                    break;
                }
                out[i] = json{{"enum", kept}};
                continue;
            }
            if (!plain_object(out[i])) return std::nullopt;
            const auto mine = required_of(out[i]);
            std::string key;
            for (const auto& q : required_of(against[j])) {
                if (std::find(mine.begin(), mine.end(), q) == mine.end()) {
                    key = q;
                    break;
                }
            }
            if (key.empty()) return std::nullopt;
            // Listing a property must not close an object that had none listed.
            json& target = out[i];
            if (!target.contains("properties") && !target.contains("additionalProperties"))
                target["additionalProperties"] = true;
            target["properties"][key] = false;
        }
    }
    // A dropped branch is still one the validator counts: the kept ones must not satisfy it.
    std::vector<size_t> kept;
    std::vector<json> compact;
    for (size_t i = 0; i < out.size(); ++i) {
        if (dropped[i]) continue;
        for (size_t j = 0; j < out.size(); ++j) {
            if (i != j && !prover.never_valid(out[i], against[j], 0)) return std::nullopt;
        }
        kept.push_back(i);
        compact.push_back(out[i]);
    }
    if (compact.empty()) return std::nullopt;
    made = std::move(compact);
    return kept;
}

bool never_valid_against(const json& made, const json& against, const RefResolver& resolve,
                         const DisjointOptions& options) {
    return Prover(resolve, options).never_valid(made, against, 0);
}

bool branches_exclusive(const std::vector<json>& made, const json& against, const RefResolver& resolve,
                        const DisjointOptions& options) {
    if (!against.is_array() || against.size() != made.size()) return false;
    const Prover prover(resolve, options);
    for (size_t i = 0; i < made.size(); ++i) {
        for (size_t j = 0; j < made.size(); ++j) {
            if (i != j && !prover.never_valid(made[i], against[j], 0)) return false;
        }
    }
    return true;
}

}  // namespace tf::jsonschema
