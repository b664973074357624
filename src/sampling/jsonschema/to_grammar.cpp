#include "sampling/jsonschema/to_grammar.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "sampling/jsonschema/disjoint.h"
#include "sampling/jsonschema/formats.h"
#include "sampling/jsonschema/int_range.h"
#include "sampling/jsonschema/json_type.h"
#include "sampling/jsonschema/regex.h"

namespace tf::jsonschema {

using json = nlohmann::ordered_json;

namespace {

// Keywords that only annotate: they never change which instances are valid.
const std::set<std::string> kAnnotations = {
    "$schema",         "$id",         "$comment",      "$anchor",   "title", "description", "examples",
    "default",         "deprecated",  "readOnly",      "writeOnly", "$defs", "definitions", "contentMediaType",
    "contentEncoding", "$vocabulary", "discriminator", "nullable"};
// Keywords a grammar cannot express but the validator checks after generation.
const std::set<std::string> kValidatedOnly = {"uniqueItems", "minProperties", "maxProperties",     "contains",
                                              "minContains", "maxContains",   "dependentRequired", "propertyNames"};
// Keywords of the JSON Schema vocabularies (draft-04 to 2020-12) that constrain instances in
// ways the grammar cannot follow, and that the validator cannot check afterwards either: an error
// unless ignore_unsupported. A keyword in no vocabulary at all (x-kubernetes-…, javaType, a
// draft-04 "id", a typo) is an annotation: the specification has implementations ignore it.
const std::set<std::string> kUnsupported = {"not",
                                            "if",
                                            "then",
                                            "else",
                                            "patternProperties",
                                            "dependencies",
                                            "dependentSchemas",
                                            "unevaluatedProperties",
                                            "unevaluatedItems",
                                            "$dynamicRef",
                                            "$dynamicAnchor",
                                            "$recursiveRef",
                                            "$recursiveAnchor",
                                            "contentSchema"};
// Keywords the grammar honours.
const std::set<std::string> kHonoured = {"type",
                                         "enum",
                                         "const",
                                         "properties",
                                         "required",
                                         "additionalProperties",
                                         "items",
                                         "prefixItems",
                                         "additionalItems",
                                         "minItems",
                                         "maxItems",
                                         "anyOf",
                                         "oneOf",
                                         "allOf",
                                         "$ref",
                                         "minLength",
                                         "maxLength",
                                         "pattern",
                                         "format",
                                         "minimum",
                                         "maximum",
                                         "exclusiveMinimum",
                                         "exclusiveMaximum",
                                         "multipleOf"};

// A pattern that is one repeated character class from end to end (^[a-z0-9-]*$, ^\d{3,}$: the
// common shape of identifiers and codes) with a string's length bounds folded into its
// repetition, as a pattern again; "" when the pattern has another shape (the grammar then follows
// the pattern alone). Each class item is one character, so the bounds count what JSON Schema
// counts.
Result<std::string> bound_repetition(const std::string& p, int64_t min_len, int64_t max_len) {
    if (min_len < 0 || (max_len >= 0 && max_len < min_len)) return Error{"minLength/maxLength out of order"};
    if (p.size() < 4 || p.front() != '^' || p.back() != '$' || p[p.size() - 2] == '\\') return std::string();
    size_t i = 1;
    std::string atom;
    if (p[i] == '[') {
        size_t j = i + 1;
        if (j < p.size() && p[j] == '^') ++j;
        if (j < p.size() && p[j] == ']') ++j;  // a leading ']' is literal
        for (; j < p.size() && p[j] != ']'; ++j) {
            if (p[j] == '\\')
                ++j;
            else if (p[j] == '[')
                return std::string();
        }
        if (j >= p.size()) return std::string();
        atom = p.substr(i, j + 1 - i);
        i = j + 1;
    } else if (p[i] == '\\' && i + 1 < p.size() &&
               std::string_view("dDwWsS").find(p[i + 1]) != std::string_view::npos) {
        atom = p.substr(i, 2);
        i += 2;
    } else if (p[i] == '.') {
        atom = ".";
        i += 1;
    } else {
        return std::string();
    }
    int64_t lo = 0, hi = -1;  // the pattern's own repetition
    const std::string_view q(p.data() + i, p.size() - 1 - i);
    if (q == "*") {
    } else if (q == "+") {
        lo = 1;
    } else if (q.size() >= 3 && q.front() == '{' && q.back() == '}') {
        const std::string_view body = q.substr(1, q.size() - 2);
        const size_t comma = body.find(',');
        auto num = [](std::string_view d, int64_t& out) {
            if (d.empty() || d.size() > 6 || d.find_first_not_of("0123456789") != std::string_view::npos) return false;
            out = std::stoll(std::string(d));
            return true;
        };
        if (!num(body.substr(0, comma), lo)) return std::string();
        if (comma == std::string_view::npos)
            hi = lo;
        else if (comma + 1 < body.size() && !num(body.substr(comma + 1), hi))
            return std::string();
    } else {
        return std::string();
    }
    lo = std::max(lo, min_len);
    if (max_len >= 0) hi = hi < 0 ? max_len : std::min(hi, max_len);
    if (hi >= 0 && hi < lo) return Error{"no string matches the pattern within minLength/maxLength"};
    if (lo > 10000 || hi > 10000) return Error{"string lengths above 10000 are not supported"};
    return "^" + atom + "{" + std::to_string(lo) + "," + (hi < 0 ? std::string() : std::to_string(hi)) + "}$";
}

// Whether every string of a pattern or format already has a length minLength/maxLength allow.
bool implied_lengths(const json& s, const LengthRange& r) {
    if (s.contains("minLength") && s["minLength"].is_number() && r.min < s["minLength"].get<double>()) return false;
    if (s.contains("maxLength") && s["maxLength"].is_number() && (r.max < 0 || r.max > s["maxLength"].get<double>()))
        return false;
    return true;
}

// Whether v is of the schema's "type" (true without one).
bool of_schema_type(const json& v, const json& schema) {
    return !schema.contains("type") || of_type(v, schema["type"]);
}

bool is_annotation(const std::string& key) {
    return kAnnotations.count(key) > 0 ||
           (kHonoured.count(key) == 0 && kValidatedOnly.count(key) == 0 && kUnsupported.count(key) == 0);
}

std::string gbnf_literal(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"')
            out += "\\\"";
        else if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += "\\t";
        else if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string sanitize(const std::string& s) {
    std::string out;
    for (char c : s) out += ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '-';
    return out.empty() ? "x" : out;
}

std::string alternatives(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " | ") + x;
    return "(" + s + ")";
}

class Converter {
  public:
    Converter(const json& root, const GrammarOptions& o)
        : root_(root), o_(o), S_(o.flexible_whitespace ? " space" : "") {}

    Result<std::string> run() {
        auto e = visit(root_, "root", 0);
        if (!e) return e.error();
        if (*e != "root") rules_["root"] = *e;
        if (o_.flexible_whitespace) rules_["space"] = "| \" \" | \"\\n\"{1,2} [ \\t]{0,20}";
        std::string out;
        for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
        return out;
    }

  private:
    bool gemma() const { return o_.notation == Notation::Gemma; }
    std::string quote() const { return gemma() ? "\"<|\\\"|>\"" : "\"\\\"\""; }
    std::string key_literal(const std::string& key) const { return gbnf_literal(gemma() ? key : json(key).dump()); }

    // Errors and gaps name where they are as a JSON pointer into the schema (rule names mean
    // nothing to the schema's author).
    Error error(const std::string& /*rule*/, const std::string& what) const {
        return Error{"json schema: " + what + " (at " + (at_.empty() ? std::string("/") : at_) + ")"};
    }

    void gap(const std::string& keyword, const std::string& why, SchemaGap::Kind kind = SchemaGap::Kind::Validated) {
        const std::string where = at_.empty() ? std::string("/") : at_;
        if (o_.warn) o_.warn("keyword '" + keyword + "' at " + where + ": " + why);
        if (o_.gap) o_.gap(SchemaGap{at_, keyword, kind, why});
    }

    // Enters a part of the schema for the lifetime of the guard: errors and gaps inside it are
    // reported there.
    struct At {
        std::string& at;
        std::string saved;
        At(std::string& a, std::string next) : at(a), saved(a) { at = std::move(next); }
        ~At() { at = saved; }
        At(const At&) = delete;
        At& operator=(const At&) = delete;
    };
    static std::string escape(const std::string& key) {
        std::string out;
        for (char c : key) {
            if (c == '~')
                out += "~0";
            else if (c == '/')
                out += "~1";
            else
                out += c;
        }
        return out;
    }
    std::string below(const std::string& a, const std::string& b = "") const {
        return at_ + "/" + escape(a) + (b.empty() ? "" : "/" + escape(b));
    }

    std::string define(const std::string& base, const std::string& body) {
        std::string name = base;
        for (int k = 1; rules_.count(name) && rules_[name] != body; ++k) name = base + "-" + std::to_string(k);
        rules_[name] = body;
        return name;
    }

    std::string prim(const std::string& name) {
        if ((name == "value" || name == "object" || name == "array") && rules_.count(name)) return name;
        if (gemma() && name == "char") return define("char", "[^<]");
        if (gemma() && name == "string") {
            // Raw text without the closing mark <|"|> in it: a scanner's states for how much of
            // the mark the text ends with (the mark overlaps no shifted copy of itself).
            rules_["gstr0"] = "([^<] gstr0 | \"<\" gstr1)?";
            rules_["gstr1"] = "([^<|] gstr0 | \"<\" gstr1 | \"|\" gstr2)?";
            rules_["gstr2"] = "([^<\"] gstr0 | \"<\" gstr1 | \"\\\"\" gstr3)?";
            rules_["gstr3"] = "([^<|] gstr0 | \"<\" gstr1 | \"|\" gstr4)?";
            rules_["gstr4"] = "([^<>] gstr0 | \"<\" gstr1)?";
            return define("string", quote() + " gstr0 " + quote());
        }
        if (gemma() && name == "key") return define("key", "[a-zA-Z_] [a-zA-Z0-9_.-]*");
        if (name == "key") return prim("string");
        if (name == "char")
            return define("char", "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})");
        if (name == "string") return define("string", "\"\\\"\" " + prim("char") + "* \"\\\"\"");
        // At most 16 digits, as llama.cpp: what JSON parsers read back exactly as doubles; exponents
        // of two digits at most, so that no number overflows a double.
        if (name == "integral-part") return define("integral-part", "[0] | [1-9] [0-9]{0,15}");
        if (name == "number")
            return define("number",
                          "\"-\"? " + prim("integral-part") + " (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?");
        if (name == "integer") return define("integer", "\"-\"? " + prim("integral-part"));
        if (name == "boolean") return define("boolean", "\"true\" | \"false\"");
        if (name == "null") return define("null", "\"null\"");
        if (name == "value") {
            rules_.emplace("value", "");
            const std::string body = prim("object") + " | " + prim("array") + " | " + prim("string") + " | " +
                                     prim("number") + " | " + prim("boolean") + " | " + prim("null");
            rules_["value"] = body;
            return "value";
        }
        if (name == "object") {
            rules_.emplace("object", "");
            const std::string kv = prim("key") + S_ + " \":\"" + S_ + " " + prim("value");
            rules_["object"] = "\"{\"" + S_ + " (" + kv + S_ + " (\",\"" + S_ + " " + kv + S_ + ")*)? \"}\"";
            return "object";
        }
        if (name == "array") {
            rules_.emplace("array", "");
            rules_["array"] =
                "\"[\"" + S_ + " (" + prim("value") + S_ + " (\",\"" + S_ + " " + prim("value") + S_ + ")*)? \"]\"";
            return "array";
        }
        return name;
    }

    Result<const json*> resolve(const std::string& ref, const std::string& where) {
        if (ref.empty() || ref[0] != '#')
            return error(where, "only local $ref ('#/…') is supported, not '" + ref + "'");
        const json* cur = &root_;
        size_t i = 1;
        while (i < ref.size()) {
            if (ref[i] != '/') return error(where, "bad $ref '" + ref + "'");
            const size_t next = ref.find('/', i + 1);
            std::string token = ref.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
            std::string unescaped;
            for (size_t k = 0; k < token.size(); ++k) {
                if (token[k] == '~' && k + 1 < token.size())
                    unescaped += token[++k] == '1' ? '/' : '~';
                else if (token[k] == '%' && k + 2 < token.size())
                    unescaped += static_cast<char>(std::stoi(token.substr(k + 1, 2), nullptr, 16)), k += 2;
                else
                    unescaped += token[k];
            }
            if (cur->is_object() && cur->contains(unescaped))
                cur = &(*cur)[unescaped];
            else if (cur->is_array() && !unescaped.empty() &&
                     unescaped.find_first_not_of("0123456789") == std::string::npos &&
                     std::stoul(unescaped) < cur->size())
                cur = &(*cur)[std::stoul(unescaped)];
            else
                return error(where, "$ref '" + ref + "' points nowhere");
            i = next == std::string::npos ? ref.size() : next;
        }
        return cur;
    }

    // allOf and the common case of a parent's keywords around an anyOf branch: one schema.
    Result<json> merge(json base, const json& other, const std::string& where) {
        struct Depth {
            int& d;
            explicit Depth(int& x) : d(++x) {}
            ~Depth() { --d; }
        } guard(merge_depth_);
        if (merge_depth_ > 64) return error(where, "$ref chain deeper than 64 (a reference cycle?)");
        if (other.is_boolean()) {
            if (!other.get<bool>()) return error(where, "a 'false' schema in allOf accepts nothing");
            return base;
        }
        json o = other;
        if (o.contains("$ref")) {
            auto r = resolve(o["$ref"].get<std::string>(), where);
            if (!r) return r.error();
            json rest = o;
            rest.erase("$ref");
            auto m = merge(**r, rest, where);
            if (!m) return m.error();
            o = *m;
        }
        return intersect(std::move(base), o, where);
    }

    // The schema both `a` and `b` describe (allOf, a $ref with siblings, an anyOf branch with
    // its parent's keywords): bounds the tighter of the two, both property sets (a property in
    // both: both its schemas), the union of required, the intersection of types and enums.
    // What cannot be written as one schema keeps a's and is reported as a gap: the validator,
    // which reads the original schema, checks both.
    Result<json> intersect(json a, const json& b, const std::string& where) {
        static const std::set<std::string> kLower = {"minimum",  "exclusiveMinimum", "minLength",
                                                     "minItems", "minProperties",    "minContains"};
        static const std::set<std::string> kUpper = {"maximum",  "exclusiveMaximum", "maxLength",
                                                     "maxItems", "maxProperties",    "maxContains"};
        // What each side lets through beyond its own properties, for the other side's properties.
        auto beyond = [](const json& side) -> json {
            if (side.contains("additionalProperties")) return side["additionalProperties"];
            return json(true);
        };
        auto listed = [](const json& side, const std::string& key) {
            return side.contains("properties") && side["properties"].is_object() && side["properties"].contains(key);
        };
        const bool a_obj = a.contains("properties") || a.contains("additionalProperties");
        const bool b_obj = b.contains("properties") || b.contains("additionalProperties");
        const json a_beyond = beyond(a), b_beyond = beyond(b);
        const json a_orig = a;
        for (auto it = b.begin(); it != b.end(); ++it) {
            const std::string& k = it.key();
            if (!a.contains(k)) {
                a[k] = *it;
                continue;
            }
            json& x = a[k];
            if (x == *it) continue;
            if (k == "properties" && x.is_object() && it->is_object()) {
                for (auto p = it->begin(); p != it->end(); ++p) {
                    if (x.contains(p.key()))
                        x[p.key()] = json{{"allOf", json::array({x[p.key()], *p})}};
                    else
                        x[p.key()] = *p;
                }
            } else if (k == "required" && x.is_array() && it->is_array()) {
                for (const auto& r : *it) {
                    if (std::find(x.begin(), x.end(), r) == x.end()) x.push_back(r);
                }
            } else if (k == "enum" && x.is_array() && it->is_array()) {
                json both = json::array();
                for (const auto& v : x) {
                    if (std::find(it->begin(), it->end(), v) != it->end()) both.push_back(v);
                }
                if (both.empty())
                    return error(where, "the schema accepts nothing: the enums of allOf/$ref have no value in common");
                x = both;
            } else if (k == "const") {
                return error(where, "the schema accepts nothing: two different 'const' values");
            } else if ((kLower.count(k) || kUpper.count(k)) && x.is_number() && it->is_number()) {
                const bool tighter =
                    kLower.count(k) ? it->get<double>() > x.get<double>() : it->get<double>() < x.get<double>();
                if (tighter) x = *it;
            } else if (k == "type") {
                auto names = [](const json& t) {
                    std::set<std::string> n;
                    if (t.is_string())
                        n.insert(t.get<std::string>());
                    else if (t.is_array())
                        for (const auto& e : t)
                            if (e.is_string()) n.insert(e.get<std::string>());
                    return n;
                };
                const auto ta = names(x), tb = names(*it);
                json both = json::array();
                for (const auto& t : ta) {
                    if (tb.count(t))
                        both.push_back(t);
                    else if (t == "integer" && tb.count("number"))
                        both.push_back(t);
                    else if (t == "number" && tb.count("integer"))
                        both.push_back("integer");
                }
                if (both.empty())
                    return error(where, "the schema accepts nothing: the types of allOf/$ref have none in common");
                x = both.size() == 1 ? both[0] : both;
            } else if ((k == "items" || k == "additionalProperties" || k == "additionalItems") &&
                       (x.is_object() || x.is_boolean()) && (it->is_object() || it->is_boolean())) {
                if (x == false || *it == false)
                    x = false;
                else if (x == true)
                    x = *it;
                else if (*it != true)
                    x = json{{"allOf", json::array({x, *it})}};
            } else if ((k == "anyOf" || (k == "oneOf" && !a.contains("anyOf"))) && x.is_array() && it->is_array() &&
                       x.size() * it->size() <= 64) {
                // Both lists: a branch of each, every pair (oneOf's exclusivity stays the validator's).
                json pairs = json::array();
                for (const auto& l : x) {
                    for (const auto& r : *it) pairs.push_back(json{{"allOf", json::array({l, r})}});
                }
                a["anyOf"] = pairs;
                if (k == "oneOf") {
                    a.erase("oneOf");
                    gap("oneOf", "exclusivity checked by the validator, not the grammar");
                }
            } else if (k == "multipleOf" && x.is_number() && it->is_number() &&
                       x.get<double>() == std::floor(x.get<double>()) &&
                       it->get<double>() == std::floor(it->get<double>()) && x.get<double>() < 1e9 &&
                       it->get<double>() < 1e9) {
                auto p = static_cast<int64_t>(x.get<double>()), q = static_cast<int64_t>(it->get<double>());
                x = p / std::gcd(p, q) * q;  // the least common multiple
            } else if (is_annotation(k)) {
            } else {
                gap(k, "two different values under allOf/$ref: the grammar follows one, the validator checks both");
            }
        }
        // A property one side lists and the other does not is among the other's additional ones:
        // forbidden where it allows none, held to its additionalProperties schema otherwise.
        if (a_obj && b_obj && a.contains("properties") && a["properties"].is_object()) {
            std::vector<std::string> drop;
            for (auto p = a["properties"].begin(); p != a["properties"].end(); ++p) {
                for (const auto* side : {&a_orig, &b}) {
                    const json& extra = side == &b ? b_beyond : a_beyond;
                    if (listed(*side, p.key()) || extra == true) continue;
                    if (extra == false)
                        drop.push_back(p.key());
                    else
                        *p = json{{"allOf", json::array({*p, extra})}};
                }
            }
            for (const auto& d : drop) {
                a["properties"].erase(d);
                if (a.contains("required") &&
                    std::find(a["required"].begin(), a["required"].end(), d) != a["required"].end()) {
                    return error(where, "the schema accepts nothing: '" + d +
                                            "' is required but another part of allOf/$ref forbids it");
                }
            }
        }
        if (a.contains("const") && a.contains("enum") && a["enum"].is_array()) {
            if (std::find(a["enum"].begin(), a["enum"].end(), a["const"]) == a["enum"].end()) {
                return error(where, "the schema accepts nothing: its 'const' is not in its 'enum'");
            }
            a.erase("enum");
        }
        return a;
    }

    // A JSON value as grammar; an integral number also in its "2.0" spellings, which JSON Schema
    // counts as the same value.
    std::string value_literal(const json& v) const {
        if (gemma() && v.is_string()) return gbnf_literal("<|\"|>" + v.get<std::string>() + "<|\"|>");
        if (v.is_number_integer() ||
            (v.is_number_float() && std::isfinite(v.get<double>()) && std::floor(v.get<double>()) == v.get<double>() &&
             std::fabs(v.get<double>()) < 1e15)) {
            const std::string digits =
                v.is_number_integer() ? v.dump() : std::to_string(static_cast<int64_t>(v.get<double>()));
            return "(" + gbnf_literal(digits) + " (\".\" \"0\"+)?)";
        }
        return gbnf_literal(v.dump());
    }

    Result<std::string> visit(const json& s, const std::string& name, int depth) {
        if (depth > 64) return error(name, "schema nested deeper than 64 levels");
        if (s.is_boolean()) {
            if (s.get<bool>()) return prim("value");
            return error(name, "the schema 'false' accepts nothing");
        }
        if (!s.is_object()) return error(name, "a schema must be an object or a boolean");
        for (auto it = s.begin(); it != s.end(); ++it) {
            if (is_annotation(it.key()) || kHonoured.count(it.key())) continue;
            if (kValidatedOnly.count(it.key())) {
                const bool grammar_too = (it.key() == "minProperties" && it->is_number() && it->get<double>() <= 1) ||
                                         (it.key() == "uniqueItems" && (*it == false || unique_values(s)));
                if (!grammar_too) gap(it.key(), "checked by the validator, not the grammar");
                continue;
            }
            const std::string msg = "keyword '" + it.key() + "' is not supported";
            if (!o_.ignore_unsupported) return error(name, msg + " (ignore it with --ignore-unsupported-keywords)");
            gap(it.key(), "not supported: ignored", SchemaGap::Kind::Ignored);
        }
        if (s.contains("$ref")) {
            const std::string ref = s["$ref"].get<std::string>();
            json rest = s;
            rest.erase("$ref");
            bool only_annotations = true;
            for (auto it = rest.begin(); it != rest.end(); ++it) only_annotations &= is_annotation(it.key());
            if (!only_annotations) {
                auto m = merge(rest, json{{"$ref", ref}}, name);
                if (!m) return m.error();
                return visit(*m, name, depth + 1);
            }
            auto known = ref_rules_.find(ref);
            if (known != ref_rules_.end()) return known->second;
            auto target = resolve(ref, name);
            if (!target) return target.error();
            const std::string rule = define("ref" + sanitize(ref.substr(1)), "");
            ref_rules_[ref] = rule;
            At here(at_, ref.substr(1));
            auto body = visit(**target, rule, depth + 1);
            if (!body) {
                // An optional property may skip this failure: a later reference must then fail
                // the same way, not find the rule half-made. Rules made on the way stay, out of
                // reach; this one matches nothing, for them.
                ref_rules_.erase(ref);
                rules_[rule] = R"([^\x00-\U0010FFFF])";
                return body.error();
            }
            rules_[rule] = *body;
            return rule;
        }
        // The values of const and enum also obey the schema's type ({"type": "object", "enum":
        // ["A", "B"]} accepts nothing, not "A").
        if (s.contains("const")) {
            if (!of_schema_type(s["const"], s))
                return error(name, "the schema accepts nothing: its 'const' is not of its 'type'");
            return value_literal(s["const"]);
        }
        if (s.contains("enum")) {
            if (!s["enum"].is_array() || s["enum"].empty()) return error(name, "'enum' must be a non-empty array");
            std::vector<std::string> alts;
            for (const auto& v : s["enum"]) {
                if (of_schema_type(v, s)) alts.push_back(value_literal(v));
            }
            if (alts.empty()) return error(name, "the schema accepts nothing: no value of its 'enum' is of its 'type'");
            return alternatives(alts);
        }
        if (s.contains("allOf")) {
            json base = s;
            base.erase("allOf");
            for (const auto& sub : s["allOf"]) {
                auto m = merge(base, sub, name);
                if (!m) return m.error();
                base = *m;
            }
            return visit(base, name, depth + 1);
        }
        for (const char* key : {"anyOf", "oneOf"}) {
            if (!s.contains(key)) continue;
            json base = s;
            base.erase(key);
            std::vector<json> made;
            for (size_t k = 0; k < s[key].size(); ++k) {
                const json& sub = s[key][k];
                At here(at_, below(key, std::to_string(k)));
                if (base.size() > 0) {
                    auto m = merge(base, sub, name);
                    if (!m) return m.error();
                    made.push_back(std::move(*m));
                } else
                    made.push_back(sub);
            }
            if (made.empty()) return error(name, std::string("'") + key + "' must not be empty");
            std::vector<size_t> index;  // of the branches kept, when some were dropped
            // oneOf's "exactly one" is "at least one" when no branch's values can satisfy
            // another, as written or once object branches stop writing the keys that others
            // require; otherwise it stays the validator's, the grammar offering every branch.
            if (std::string(key) == "oneOf" && made.size() > 1) {
                const RefResolver refs = [this](const std::string& ref) -> const json* {
                    auto r = resolve(ref, "");
                    return r ? *r : nullptr;
                };
                const DisjointOptions dopt{o_.open_objects};
                if (!branches_exclusive(made, s[key], refs, dopt)) {
                    if (auto kept = make_exclusive(made, s[key], refs, dopt))
                        index = std::move(*kept);
                    else
                        gap("oneOf", "exclusivity checked by the validator, not the grammar");
                }
            }
            std::vector<std::string> alts;
            for (size_t k = 0; k < made.size(); ++k) {
                At here(at_, below(key, std::to_string(index.empty() ? k : index[k])));
                auto e = visit(made[k], name + "-" + std::to_string(k), depth + 1);
                if (!e) return e.error();
                alts.push_back(*e);
            }
            return define(name, alternatives(alts).substr(1, alternatives(alts).size() - 2));
        }
        if (s.contains("type") && s["type"].is_array()) {
            std::vector<std::string> alts;
            for (const auto& t : s["type"]) {
                json one = s;
                one["type"] = t;
                auto e = visit(one, name + "-" + (t.is_string() ? t.get<std::string>() : "t"), depth + 1);
                if (!e) return e.error();
                alts.push_back(*e);
            }
            if (alts.empty()) return error(name, "'type' must not be an empty list");
            return alternatives(alts);
        }
        std::string type;
        if (s.contains("type")) {
            if (!s["type"].is_string()) return error(name, "'type' must be a string or a list of strings");
            type = s["type"].get<std::string>();
        } else if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) {
            type = "object";
        } else if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") ||
                   s.contains("maxItems")) {
            type = "array";
        } else if (s.contains("pattern") || s.contains("format") || s.contains("minLength") ||
                   s.contains("maxLength")) {
            type = "string";
        } else {
            bool empty = true;
            for (auto it = s.begin(); it != s.end(); ++it) empty &= is_annotation(it.key());
            return depth == 0 && empty ? prim("object") : prim("value");
        }
        if (type == "string") return string_rule(s, name);
        if (type == "integer" || type == "number") {
            if (auto m = multiple_of_rule(s, type, name); !m || !m->empty()) return m;
        }
        if (type == "integer") return integer_rule(s, name);
        if (type == "number") return number_rule(s, name);
        if (type == "boolean") return prim("boolean");
        if (type == "null") return prim("null");
        if (type == "object") return object_rule(s, name, depth);
        if (type == "array") return array_rule(s, name, depth);
        return error(name, "unknown type '" + type + "'");
    }

    Result<std::string> string_rule(const json& s, const std::string& name) {
        const std::string q = quote();
        if (s.contains("pattern")) {
            std::string pattern = s["pattern"].get<std::string>();
            bool unbounded = false;
            if (s.contains("minLength") || s.contains("maxLength")) {
                auto bounded = bound_repetition(pattern, s.value("minLength", int64_t(0)),
                                                s.contains("maxLength") ? s["maxLength"].get<int64_t>() : -1);
                if (!bounded) return error(name, bounded.error().message);
                if (bounded->empty())
                    unbounded = true;
                else
                    pattern = *bounded;
            }
            LengthRange lengths;
            auto r = regex_to_gbnf(pattern, prim("char"), &lengths);
            if (!r) return error(name, r.error().message);
            if (unbounded && !implied_lengths(s, lengths))
                gap(s.contains("maxLength") ? "maxLength" : "minLength",
                    "beside a pattern: checked by the validator, not the grammar");
            // Two languages at once (a date that also matches ^[0-9-]+$): the grammar follows the
            // pattern; the format is the validator's.
            if (s.contains("format"))
                gap("format", "beside a pattern: the grammar follows the pattern, the validator checks the format");
            return define(name, q + " " + *r + " " + q);
        }
        if (s.contains("format")) {
            const std::string f = s["format"].get<std::string>();
            // The date and time rules below: their strings' lengths.
            static const std::map<std::string, LengthRange> kFormatLengths = {
                {"date", {10, 10}}, {"time", {9, -1}}, {"date-time", {20, -1}}};
            LengthRange lengths{0, -1};
            if (const std::string p = formats::grammar_pattern(f); !p.empty())
                (void)regex_to_gbnf("^" + p + "$", prim("char"), &lengths);
            else if (auto known = kFormatLengths.find(f); known != kFormatLengths.end())
                lengths = known->second;
            if ((s.contains("minLength") || s.contains("maxLength")) && !implied_lengths(s, lengths)) {
                gap(s.contains("maxLength") ? "maxLength" : "minLength",
                    "beside format '" + f + "': checked by the validator, not the grammar");
            }
            static const std::map<std::string, std::string> kFormatRules = {
                // Days as long as the month; February 29 only in leap years (RFC 3339, as the
                // validator: a year divisible by 4, and a century only when divisible by 400).
                {"date",
                 R"([0-9]{4} "-" (("0" [13578] | "1" [02]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]) | ("0" [469] | "11") "-" ("0" [1-9] | [12] [0-9] | "30") | "02-" ("0" [1-9] | "1" [0-9] | "2" [0-8])) | ([0-9] [0-9] ([02468] [48] | [13579] [26] | [2468] "0") | ([02468] [048] | [13579] [26]) "00") "-02-29")"},
                {"time",
                 R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]+)? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))"},
            };
            if (f == "date-time") {
                define("date-body", kFormatRules.at("date"));
                define("time-body", kFormatRules.at("time"));
                return define("date-time-string", q + " date-body \"T\" time-body " + q);
            }
            // uuid, ipv4, ipv6, hostname, email, uri: the regular expression the validator asserts
            // too (formats.h), so both accept the same strings.
            if (const std::string p = formats::grammar_pattern(f); !p.empty()) {
                auto r = regex_to_gbnf("^" + p + "$", prim("char"));
                if (!r) return error(name, "format '" + f + "': " + r.error().message);
                const std::string body = define(sanitize(f) + "-body", *r);
                return define(sanitize(f) + "-string", q + " " + body + " " + q);
            }
            auto it = kFormatRules.find(f);
            if (it == kFormatRules.end()) {
                const std::string msg = "format '" + f + "' is not supported";
                if (!o_.ignore_unsupported) return error(name, msg);
                gap("format", msg + ": any string accepted", SchemaGap::Kind::Ignored);
                return prim("string");
            }
            const std::string body = define(f + "-body", it->second);
            return define(f + "-string", q + " " + body + " " + q);
        }
        const int64_t min = s.value("minLength", int64_t(0));
        const int64_t max = s.contains("maxLength") ? s["maxLength"].get<int64_t>() : -1;
        if (min < 0 || (max >= 0 && max < min)) return error(name, "minLength/maxLength out of order");
        if (min > 10000 || max > 10000) return error(name, "string lengths above 10000 are not supported");
        if (min == 0 && max < 0) return prim("string");
        const std::string reps =
            max < 0 ? "{" + std::to_string(min) + ",}" : "{" + std::to_string(min) + "," + std::to_string(max) + "}";
        return define(name, q + " " + prim("char") + reps + " " + q);
    }

    // multipleOf where the grammar can spell it: a power of ten below one (0.01: prices) limits a
    // number's fraction digits; an integer k up to kMaxModulus makes the digits a walk through
    // the residues mod k, when there are no bounds (both together: left to the validator);
    // multipleOf 1 makes a number an integer. "" when the caller's rule applies: no multipleOf,
    // one implied by the type, or one left to the validator (with a warning).
    Result<std::string> multiple_of_rule(const json& s, const std::string& type, const std::string& name) {
        if (!s.contains("multipleOf")) return std::string();
        const json& mv = s["multipleOf"];
        if (!mv.is_number() || !(mv.get<double>() > 0) || !std::isfinite(mv.get<double>())) {
            return error(name, "'multipleOf' must be a number above 0");
        }
        const double m = mv.get<double>();
        const bool bounded = s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
                             s.contains("exclusiveMaximum");
        auto left_to_validator = [&]() -> Result<std::string> {
            gap("multipleOf",
                mv.dump() + (bounded ? " beside bounds" : "") + ": checked by the validator, not the grammar");
            return std::string();
        };
        int digits = 0;  // m = 10^-digits
        for (int d = 1; d <= 6 && digits == 0; ++d) {
            if (std::fabs(m * std::pow(10.0, d) - 1.0) < 1e-9) digits = d;
        }
        if (digits > 0) {
            if (type == "integer") return std::string();  // every integer is a multiple
            return number_rule(s, name, digits);
        }
        if (m != std::floor(m)) return left_to_validator();
        // A number that is a multiple of an integer may still be written 10000.0.
        const std::string point_zero = type == "number" ? " (\".\" \"0\"{1,6})?" : "";
        if (m == 1) {
            auto r = integer_rule(s, name);
            if (!r || point_zero.empty()) return r;
            return define(name + "-whole", "(" + *r + ")" + point_zero);
        }
        if (m > kMaxModulus || bounded) return left_to_validator();
        const auto k = static_cast<int>(m);
        // state i: the digits read so far are ≡ i (mod k), at least one read, none left to read
        // only in state 0.
        std::string base = name + "-mod";
        while (rules_.count(base + "-0")) base += "x";
        auto state = [&](int i) { return base + "-" + std::to_string(i); };
        auto moves = [&](int from, int first_digit) {
            std::string alts;
            for (int t = 0; t < k; ++t) {
                std::string cls;
                for (int d = first_digit; d <= 9; ++d) {
                    if ((10 * from + d) % k == t) cls += static_cast<char>('0' + d);
                }
                if (cls.empty()) continue;
                alts += (alts.empty() ? "" : " | ") + ("[" + cls + "] " + state(t));
            }
            return alts;
        };
        for (int i = 0; i < k; ++i) rules_[state(i)] = i == 0 ? "(" + moves(0, 0) + ")?" : moves(i, 0);
        // The first digit: from residue 0, not a leading zero ("0" alone is a multiple).
        return define(name, "\"-\"? (\"0\" | " + moves(0, 1) + ")" + point_zero);
    }

    Result<std::string> integer_rule(const json& s, const std::string& name) {
        std::optional<int64_t> lo, hi;
        auto bound = [&](const char* key, bool is_min, bool exclusive) -> Status {
            if (!s.contains(key)) return Status::success();
            const json& v = s[key];
            if (v.is_boolean()) return Status::success();  // draft-04 boolean exclusives: ignored
            if (!v.is_number()) return error(name, std::string("'") + key + "' must be a number");
            const double d = v.get<double>();
            if (d > 9.2e18 || d < -9.2e18) return Status::success();
            int64_t b = is_min ? static_cast<int64_t>(std::ceil(d)) : static_cast<int64_t>(std::floor(d));
            if (exclusive && static_cast<double>(b) == d) b += is_min ? 1 : -1;
            if (is_min)
                lo = lo ? std::max(*lo, b) : b;
            else
                hi = hi ? std::min(*hi, b) : b;
            return Status::success();
        };
        for (auto [key, is_min, excl] : {std::tuple{"minimum", true, false},
                                         {"exclusiveMinimum", true, true},
                                         {"maximum", false, false},
                                         {"exclusiveMaximum", false, true}}) {
            if (Status st = bound(key, is_min, excl); !st) return st.error();
        }
        if (!lo && !hi) return prim("integer");
        if (lo && hi && *lo > *hi) return error(name, "no integer satisfies the bounds");
        return define(name, integer_range_gbnf(lo, hi));
    }

    // Bounded numbers without exponents, sound by construction (every string the grammar
    // allows is a number within the bounds): the integers of the range; I.F with I >= 0 where
    // every fraction keeps I.F in range (I >= lo, I + 1 <= hi); and -I.F likewise. Values the
    // grammar cannot spell this way (90.5 when the maximum is 90.7) are left out; the fraction
    // has at most 6 digits so that no spelling rounds onto an exclusive bound.
    // fraction_digits: a multipleOf's limit (multiple_of_rule); without one, any number when
    // unbounded and up to kFractionDigits when bounded.
    Result<std::string> number_rule(const json& s, const std::string& name,
                                    std::optional<int> fraction_digits = std::nullopt) {
        const int digits = fraction_digits.value_or(kFractionDigits);
        std::optional<double> lo, hi;
        bool lo_ex = false, hi_ex = false;
        for (auto [key, is_min, excl] : {std::tuple{"minimum", true, false},
                                         {"exclusiveMinimum", true, true},
                                         {"maximum", false, false},
                                         {"exclusiveMaximum", false, true}}) {
            if (!s.contains(key) || s[key].is_boolean()) continue;  // draft-04 boolean exclusives: ignored
            if (!s[key].is_number()) return error(name, std::string("'") + key + "' must be a number");
            const double d = s[key].get<double>();
            if (!std::isfinite(d) || d > 9.0e15 || d < -9.0e15) continue;  // beyond exact integers: no bound
            if (is_min && (!lo || d > *lo || (d == *lo && excl))) lo = d, lo_ex = excl;
            if (!is_min && (!hi || d < *hi || (d == *hi && excl))) hi = d, hi_ex = excl;
        }
        if (!lo && !hi) {
            if (!fraction_digits) return prim("number");
            return define(name,
                          "\"-\"? " + prim("integral-part") + " (\".\" [0-9]{1," + std::to_string(digits) + "})?");
        }
        auto at_least = [](double d, bool ex) { return static_cast<int64_t>(ex ? std::floor(d) + 1 : std::ceil(d)); };
        auto at_most = [](double d, bool ex) { return static_cast<int64_t>(ex ? std::ceil(d) - 1 : std::floor(d)); };
        const std::string frac = " \".\" [0-9]{1," + std::to_string(digits) + "}";
        std::vector<std::string> alts;
        std::optional<int64_t> ilo, ihi;
        if (lo) ilo = at_least(*lo, lo_ex);
        if (hi) ihi = at_most(*hi, hi_ex);
        if (!(ilo && ihi && *ilo > *ihi)) alts.push_back("(" + integer_range_gbnf(ilo, ihi) + ")");
        const int64_t pl = std::max<int64_t>(0, ilo.value_or(0));
        std::optional<int64_t> ph;
        if (hi) ph = static_cast<int64_t>(std::floor(*hi)) - 1;
        if (!ph || pl <= *ph) alts.push_back("(" + integer_range_gbnf(pl, ph) + ")" + frac);
        const int64_t nl = std::max<int64_t>(0, hi ? at_least(-*hi, hi_ex) : 0);
        std::optional<int64_t> nh;
        if (lo) nh = static_cast<int64_t>(std::floor(-*lo)) - 1;
        if (!nh || nl <= *nh) alts.push_back("\"-\" (" + integer_range_gbnf(nl, nh) + ")" + frac);
        // An exclusive integral bound: its own integer part with a fraction that is not zero.
        const std::string nonzero_frac = " \".\" [0-9]{0," + std::to_string(digits - 1) + "} [1-9]";
        if (lo && lo_ex && *lo == std::floor(*lo) && *lo >= 0 && (!hi || *lo + 1 <= *hi)) {
            const auto k = static_cast<int64_t>(*lo);
            alts.push_back("(" + integer_range_gbnf(k, k) + ")" + nonzero_frac);
        }
        if (hi && hi_ex && *hi == std::floor(*hi) && *hi <= 0 && (!lo || -*hi + 1 <= -*lo)) {
            const auto k = static_cast<int64_t>(-*hi);
            alts.push_back("\"-\" (" + integer_range_gbnf(k, k) + ")" + nonzero_frac);
        }
        if (alts.empty()) return error(name, "no number satisfies the bounds");
        std::string body;
        for (const auto& a : alts) body += (body.empty() ? "" : " | ") + a;
        return define(name, body);
    }

    // A string that is none of `keys` (for additional properties beside the declared ones). In
    // Gemma's notation any bare key (a declared one may then come twice).
    std::string other_key(const std::vector<std::string>& keys, const std::string& name) {
        if (keys.empty() || gemma()) return prim("key");
        // A trie of the keys' bytes; from each node: end here if that is not a key, or any char
        // that leaves the trie followed by anything, or a char that follows it further.
        struct Node {
            std::map<unsigned char, int> next;
            bool key = false;
        };
        std::vector<Node> trie(1);
        for (const auto& k : keys) {
            int n = 0;
            for (unsigned char c : k) {
                auto it = trie[static_cast<size_t>(n)].next.find(c);
                if (it == trie[static_cast<size_t>(n)].next.end()) {
                    trie.push_back({});
                    const int fresh = static_cast<int>(trie.size() - 1);
                    trie[static_cast<size_t>(n)].next[c] = fresh;
                    n = fresh;
                } else {
                    n = it->second;
                }
            }
            trie[static_cast<size_t>(n)].key = true;
        }
        const std::string ch = prim("char");
        for (size_t i = trie.size(); i-- > 0;) {
            std::vector<std::string> alts;
            if (!trie[i].key) alts.push_back("\"\\\"\"");
            std::string excluded;
            for (const auto& [c, child] : trie[i].next) {
                alts.push_back(gbnf_literal(std::string(1, static_cast<char>(c))) + " " + name + "-k" +
                               std::to_string(child));
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02X", c);
                excluded += buf;
            }
            // Any other character (a multi-byte one never equals a key's first byte here).
            alts.push_back("([^\"\\\\\\x7F\\x00-\\x1F" + excluded +
                           "] | [\\\\] ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})) " + ch + "* \"\\\"\"");
            rules_[name + "-k" + std::to_string(i)] = alternatives(alts).substr(1, alternatives(alts).size() - 2);
        }
        return "\"\\\"\" " + name + "-k0";
    }

    Result<std::string> object_rule(const json& s, const std::string& name, int depth) {
        std::vector<std::pair<std::string, std::string>> props;  // key, kv expression
        std::set<std::string> required;
        if (s.contains("required")) {
            for (const auto& r : s["required"]) required.insert(r.get<std::string>());
        }
        std::vector<std::string> keys;
        if (s.contains("properties")) {
            for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
                const std::string pname = name + "-" + sanitize(it.key());
                At here(at_, below("properties", it.key()));
                auto v = visit(*it, pname, depth + 1);
                // An optional property no value satisfies ({"x": false}, a type its enum misses)
                // is one the object never has — not even as an additional property.
                if (!v && !required.count(it.key()) && v.error().message.find("accepts nothing") != std::string::npos) {
                    keys.push_back(it.key());
                    continue;
                }
                if (!v) return v.error();
                const std::string kv = define(pname + "-kv", key_literal(it.key()) + S_ + " \":\"" + S_ + " " + *v);
                props.push_back({it.key(), kv});
                keys.push_back(it.key());
            }
        }
        for (const auto& r : required) {
            if (std::find(keys.begin(), keys.end(), r) == keys.end()) {
                // Required but not described: any value under that name.
                const std::string kv =
                    define(name + "-" + sanitize(r) + "-kv", key_literal(r) + S_ + " \":\"" + S_ + " " + prim("value"));
                props.push_back({r, kv});
                keys.push_back(r);
            }
        }
        std::string additional;
        const json ap = s.contains("additionalProperties") ? s["additionalProperties"]
                                                           : json(o_.open_objects || !s.contains("properties"));
        if (!(ap.is_boolean() && !ap.get<bool>())) {
            std::string value = prim("value");
            if (ap.is_object()) {
                At here(at_, below("additionalProperties"));
                auto v = visit(ap, name + "-additional", depth + 1);
                if (!v) return v.error();
                value = *v;
            }
            additional =
                define(name + "-additional-kv", other_key(keys, name + "-key") + S_ + " \":\"" + S_ + " " + value);
        }
        // Members in the order written, optional ones skippable, then any additional ones:
        //   first_i: member i opens the object   (kv_i rest_{i+1} | first_{i+1} when optional)
        //   rest_i:  something came before       ("," kv_i)? rest_{i+1}, the comma only if present
        const std::string sep = "\",\"" + S_ + " ";
        const std::string extra = additional.empty() ? "" : additional + S_ + " (" + sep + additional + S_ + ")*";
        const size_t n = props.size();
        // minProperties 1 (MaskBench: "at least one of these"): the members cannot all be
        // skipped. Larger counts are the validator's.
        const bool nonempty =
            s.contains("minProperties") && s["minProperties"].is_number() && s["minProperties"].get<double>() >= 1;
        if (nonempty && n == 0 && additional.empty())
            return error(name, "the schema accepts nothing: minProperties and no property allowed");
        std::vector<std::string> first(n + 1), rest(n + 1);
        rest[n] = additional.empty() ? "" : "(" + sep + additional + S_ + ")*";
        first[n] = additional.empty() ? "" : nonempty ? extra : "(" + extra + ")?";
        for (size_t i = n; i-- > 0;) {
            const bool req = required.count(props[i].first) > 0;
            const std::string kv = props[i].second + S_;
            const std::string r =
                (req ? sep + kv : "(" + sep + kv + ")?") + (rest[i + 1].empty() ? "" : " " + rest[i + 1]);
            rest[i] = define(name + "-rest" + std::to_string(i), r);
            const std::string after = rest[i + 1].empty() ? kv : kv + " " + rest[i + 1];
            std::string f = req || first[i + 1].empty() ? after : after + " | " + first[i + 1];
            if (!req && first[i + 1].empty()) f = nonempty ? after : "(" + after + ")?";
            first[i] = define(name + "-first" + std::to_string(i), f);
        }
        std::string body = "\"{\"" + S_;
        if (!first[0].empty()) body += " " + first[0];
        body += " \"}\"";
        return define(name, body);
    }

    // The values of an array whose items are unique and drawn from a small finite set (an
    // enum, a const, booleans): the grammar can then follow uniqueness exactly, one rule per set
    // of values used so far. Nothing when the array is not of that shape.
    static std::optional<std::vector<json>> unique_values(const json& s) {
        if (!s.is_object() || s.value("uniqueItems", false) != true || s.contains("prefixItems") ||
            !s.contains("items") || !s["items"].is_object()) {
            return std::nullopt;
        }
        const json& it = s["items"];
        for (auto k = it.begin(); k != it.end(); ++k) {
            if (k.key() != "enum" && k.key() != "const" && k.key() != "type" && !is_annotation(k.key()))
                return std::nullopt;
        }
        std::vector<json> values;
        if (it.contains("const"))
            values.push_back(it["const"]);
        else if (it.contains("enum") && it["enum"].is_array())
            values.assign(it["enum"].begin(), it["enum"].end());
        else if (it.value("type", json()) == "boolean")
            values = {json(false), json(true)};
        else
            return std::nullopt;
        std::vector<json> distinct;
        for (const auto& v : values) {
            if (!of_schema_type(v, it)) continue;
            bool seen = false;
            for (const auto& d : distinct)
                seen |= d == v || (d.is_number() && v.is_number() && d.get<double>() == v.get<double>());
            if (!seen) distinct.push_back(v);
        }
        if (distinct.empty() || distinct.size() > kMaxUniqueValues) return std::nullopt;
        return distinct;
    }

    Result<std::string> array_rule(const json& s, const std::string& name, int depth) {
        const int64_t min = s.value("minItems", int64_t(0));
        const int64_t max = s.contains("maxItems") ? s["maxItems"].get<int64_t>() : -1;
        if (min < 0 || (max >= 0 && max < min)) return error(name, "minItems/maxItems out of order");
        if (auto values = unique_values(s)) {
            // State = the set of values used (a bit mask): each next item is one not used yet,
            // and the array may close once minItems are there.
            const auto k = static_cast<int64_t>(values->size());
            const int64_t cap = max < 0 ? k : std::min(max, k);
            if (min > cap)
                return error(name, "the schema accepts nothing: minItems above the number of distinct items");
            std::vector<std::string> lit;
            for (const auto& v : *values) lit.push_back(value_literal(v));
            std::string base = name + "-set";
            while (rules_.count(base + "-1")) base += "x";
            const std::string sep = "\",\"" + S_ + " ";
            for (uint32_t mask = 1; mask < (1u << k); ++mask) {
                const int used = __builtin_popcount(mask);
                if (used > cap) continue;
                std::vector<std::string> alts;
                if (used < cap) {
                    for (int64_t i = 0; i < k; ++i) {
                        if (!(mask & (1u << i)))
                            alts.push_back(sep + lit[static_cast<size_t>(i)] + S_ + " " + base + "-" +
                                           std::to_string(mask | (1u << i)));
                    }
                }
                std::string body = alternatives(alts).substr(1, alternatives(alts).size() - 2);
                if (used >= min) body = alts.empty() ? "\"\"" : "(" + body + ")?";
                rules_[base + "-" + std::to_string(mask)] = body;
            }
            std::vector<std::string> first;
            if (cap > 0) {
                for (int64_t i = 0; i < k; ++i)
                    first.push_back(lit[static_cast<size_t>(i)] + S_ + " " + base + "-" + std::to_string(1u << i));
            }
            std::string inner = first.empty() ? "" : alternatives(first);
            if (min == 0 && !inner.empty()) inner += "?";
            return define(name, "\"[\"" + S_ + (inner.empty() ? "" : " " + inner) + " \"]\"");
        }
        if (min > 1000 || max > 1000) return error(name, "array bounds above 1000 are not supported");
        std::vector<std::string> tuple;
        const json* rest = nullptr;
        json rest_any = true;
        if (s.contains("prefixItems") && s["prefixItems"].is_object()) {
            // Not an array: llama.cpp reads it as the item schema when "items" is absent.
            rest = s.contains("items") ? &s["items"] : &s["prefixItems"];
        } else if (s.contains("prefixItems")) {
            for (size_t i = 0; i < s["prefixItems"].size(); ++i) {
                At here(at_, below("prefixItems", std::to_string(i)));
                auto e = visit(s["prefixItems"][i], name + "-" + std::to_string(i), depth + 1);
                if (!e) return e.error();
                tuple.push_back(*e);
            }
            rest = s.contains("items") ? &s["items"] : &rest_any;
        } else if (s.contains("items") && s["items"].is_array()) {  // draft-07 tuples
            for (size_t i = 0; i < s["items"].size(); ++i) {
                At here(at_, below("items", std::to_string(i)));
                auto e = visit(s["items"][i], name + "-" + std::to_string(i), depth + 1);
                if (!e) return e.error();
                tuple.push_back(*e);
            }
            rest = s.contains("additionalItems") ? &s["additionalItems"] : &rest_any;
        } else {
            rest = s.contains("items") ? &s["items"] : &rest_any;
        }
        std::string item;
        const bool rest_allowed = !(rest->is_boolean() && !rest->get<bool>());
        if (rest_allowed) {
            const char* rest_key = rest == &rest_any                                                ? ""
                                   : s.contains("additionalItems") && rest == &s["additionalItems"] ? "additionalItems"
                                   : s.contains("items") && rest == &s["items"]                     ? "items"
                                                                                                    : "prefixItems";
            At here(at_, *rest_key ? below(rest_key) : at_);
            auto e = visit(*rest, name + "-item", depth + 1);
            if (!e) return e.error();
            item = *e;
        }
        const std::string sep = "\",\"" + S_ + " ";
        // Elements: the tuple's in order (each required while below minItems), then items.
        std::vector<std::string> elems;
        const int64_t n_tuple = static_cast<int64_t>(tuple.size());
        const int64_t cap = max >= 0 ? max : -1;
        const int64_t n_fixed = cap >= 0 ? std::min(n_tuple, cap) : n_tuple;
        // Build from the end: tail(k) = what may follow after k elements.
        std::string tail;  // after all tuple elements
        if (rest_allowed && (cap < 0 || cap > n_tuple)) {
            const int64_t extra_min = std::max<int64_t>(0, min - n_tuple);
            const std::string more = "(" + sep + item + S_ + ")";
            std::string reps = cap < 0 ? "{" + std::to_string(extra_min) + ",}"
                                       : "{" + std::to_string(extra_min) + "," + std::to_string(cap - n_tuple) + "}";
            tail = more + reps;
        }
        if (n_fixed == 0) {
            // Only items: item (sep item){min-1,max-1}, optional when min == 0.
            if (!rest_allowed || cap == 0) return define(name, "\"[\"" + S_ + " \"]\"");
            const std::string lo = std::to_string(std::max<int64_t>(0, min - 1));
            const std::string hi = cap < 0 ? "" : std::to_string(cap - 1);
            std::string body = item + S_ + " (" + sep + item + S_ + "){" + lo + "," + hi + "}";
            if (min == 0) body = "(" + body + ")?";
            return define(name, "\"[\"" + S_ + " " + body + " \"]\"");
        }
        std::string inner = tail;
        for (int64_t i = n_fixed - 1; i >= 0; --i) {
            std::string here =
                (i == 0 ? "" : sep) + tuple[static_cast<size_t>(i)] + S_ + (inner.empty() ? "" : " " + inner);
            inner = i >= min ? "(" + here + ")?" : here;
        }
        return define(name, "\"[\"" + S_ + " " + inner + " \"]\"");
    }

    const json& root_;
    const GrammarOptions& o_;
    const std::string S_;
    std::map<std::string, std::string> rules_;
    static constexpr double kMaxModulus = 100;     // rules per multipleOf grammar
    static constexpr size_t kMaxUniqueValues = 8;  // 2^8 rules for the sets of values used
    static constexpr int kFractionDigits = 6;      // of a bounded number: no spelling rounds onto an exclusive bound
    std::map<std::string, std::string> ref_rules_;
    int merge_depth_ = 0;
    std::string at_;  // JSON pointer of the schema being compiled
};

}  // namespace

Result<std::string> schema_to_gbnf(const nlohmann::ordered_json& schema, const GrammarOptions& options) {
    // Values of the wrong JSON type deep inside a schema surface as exceptions from the JSON
    // library; they are errors in the schema, reported as such.
    try {
        return Converter(schema, options).run();
    } catch (const std::exception& e) {
        return Error{std::string("json schema: malformed schema: ") + e.what()};
    }
}

}  // namespace tf::jsonschema
