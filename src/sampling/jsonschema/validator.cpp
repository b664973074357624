#include "sampling/jsonschema/validator.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>

#include "sampling/jsonschema/formats.h"
#include "sampling/jsonschema/json_type.h"

namespace tf::jsonschema {

using json = nlohmann::ordered_json;

namespace {

// Compiled ECMA-262-ish patterns (PCRE2 in UTF mode is close enough for schema patterns).
class RegexCache {
  public:
    ~RegexCache() {
        for (auto& [k, v] : cache_) pcre2_code_free(v);
    }
    // nullptr when the pattern does not compile.
    pcre2_code* get(const std::string& pattern) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = cache_.find(pattern);
        if (it != cache_.end()) return it->second;
        int err = 0;
        PCRE2_SIZE off = 0;
        pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                       &err, &off, nullptr);
        cache_[pattern] = re;
        return re;
    }
    // The whole text matches (no "$ before a final newline" leniency).
    bool whole(const std::string& pattern, const std::string& text) {
        pcre2_code* re = get(pattern);
        if (re == nullptr) return false;
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
        const int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, nullptr);
        pcre2_match_data_free(md);
        return rc >= 0;
    }
    bool search(const std::string& pattern, const std::string& text) {
        pcre2_code* re = get(pattern);
        if (re == nullptr) return false;
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
        const int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, md, nullptr);
        pcre2_match_data_free(md);
        return rc >= 0;
    }

  private:
    std::mutex mu_;
    std::map<std::string, pcre2_code*> cache_;
};

RegexCache& regexes() {
    static RegexCache c;
    return c;
}

size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// JSON equality with 1 == 1.0.
bool equal(const json& a, const json& b) {
    if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
    if (a.type() != b.type()) return false;
    if (a.is_array()) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i) {
            if (!equal(a[i], b[i])) return false;
        }
        return true;
    }
    if (a.is_object()) {
        if (a.size() != b.size()) return false;
        for (auto it = a.begin(); it != a.end(); ++it) {
            if (!b.contains(it.key()) || !equal(*it, b[it.key()])) return false;
        }
        return true;
    }
    return a == b;
}

// The day exists in its month (RFC 3339: February 29 only in leap years); s starts with a date
// the format's pattern accepted.
bool calendar_day(const std::string& s) {
    const int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

// A leap second (ss = 60) exists only at 23:59:60 UTC: the time's hour and minute less its offset.
bool leap_second_ok(const std::string& t) {  // t: hh:mm:ss[.f](Z|±hh:mm), already well formed
    if (t.substr(6, 2) != "60") return true;
    int minutes = std::stoi(t.substr(0, 2)) * 60 + std::stoi(t.substr(3, 2));
    const size_t z = t.find_first_of("zZ+-", 8);
    if (z != std::string::npos && (t[z] == '+' || t[z] == '-')) {
        const int off = std::stoi(t.substr(z + 1, 2)) * 60 + std::stoi(t.substr(z + 4, 2));
        minutes -= t[z] == '+' ? off : -off;
    }
    minutes = ((minutes % 1440) + 1440) % 1440;
    return minutes == 23 * 60 + 59;
}

bool format_ok(const std::string& f, const std::string& s) {
    auto re = [&](const std::string& p) { return regexes().whole(p, s); };
    static const std::string kDate = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
    static const std::string kTime = "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([zZ]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
    if (f == "date") return re(kDate) && calendar_day(s);
    if (f == "time") return re(kTime) && leap_second_ok(s);
    if (f == "date-time") return re(kDate + "[tT]" + kTime) && calendar_day(s) && leap_second_ok(s.substr(11));
    if (f == "hostname" && s.size() > 253) return false;
    const std::string p = formats::validator_pattern(f);
    if (!p.empty()) return re(p);
    return true;  // unknown formats are annotations
}

class Run {
  public:
    Run(const json& root, const ValidatorOptions& o, std::vector<ValidationError>& errors) : root_(root), o_(o), errors_(errors) {}

    // Validates `v` against `s`; records errors unless `quiet` (used inside anyOf/not/…).
    bool check(const json& s, const json& v, const std::string& path, bool quiet, int depth) {
        if (depth > 128) return fail(path, "$ref", "schema recursion too deep", quiet);
        if (s.is_boolean()) return s.get<bool>() ? true : fail(path, "false", "the schema 'false' allows nothing", quiet);
        if (!s.is_object()) return true;
        bool ok = true;
        auto sub = [&](const json& schema, const json& value, const std::string& p) { return check(schema, value, p, quiet, depth + 1); };
        if (auto it = s.find("$ref"); it != s.end() && it->is_string()) {
            const json* target = resolve(it->get<std::string>());
            if (target == nullptr) return fail(path, "$ref", "cannot resolve " + it->get<std::string>(), quiet);
            ok &= sub(*target, v, path);
        }
        if (auto it = s.find("type"); it != s.end() && !of_type(v, *it)) ok &= fail(path, "type", "expected " + it->dump(), quiet);
        if (auto it = s.find("enum"); it != s.end() && it->is_array()) {
            bool any = false;
            for (const auto& e : *it) any |= equal(e, v);
            if (!any) ok &= fail(path, "enum", "not one of " + it->dump(), quiet);
        }
        if (auto it = s.find("const"); it != s.end() && !equal(*it, v)) ok &= fail(path, "const", "must be " + it->dump(), quiet);
        for (const char* k : {"allOf", "anyOf", "oneOf"}) {
            auto it = s.find(k);
            if (it == s.end() || !it->is_array()) continue;
            size_t passed = 0;
            for (const auto& branch : *it) passed += check(branch, v, path, true, depth + 1);
            const std::string key = k;
            if (key == "allOf" && passed != it->size()) {
                for (const auto& branch : *it) sub(branch, v, path);
                ok = false;
            }
            if (key == "anyOf" && passed == 0) ok &= fail(path, "anyOf", "matches none of the alternatives", quiet);
            if (key == "oneOf" && passed != 1) ok &= fail(path, "oneOf", "matches " + std::to_string(passed) + " alternatives, not exactly one", quiet);
        }
        if (auto it = s.find("not"); it != s.end() && check(*it, v, path, true, depth + 1)) ok &= fail(path, "not", "matches the 'not' schema", quiet);
        if (auto it = s.find("if"); it != s.end()) {
            if (check(*it, v, path, true, depth + 1)) {
                if (auto t = s.find("then"); t != s.end()) ok &= sub(*t, v, path);
            } else if (auto e = s.find("else"); e != s.end()) {
                ok &= sub(*e, v, path);
            }
        }
        if (v.is_number()) ok &= numbers(s, v.get<double>(), path, quiet);
        if (v.is_string()) ok &= strings(s, v.get<std::string>(), path, quiet);
        if (v.is_array()) ok &= arrays(s, v, path, quiet, depth);
        if (v.is_object()) ok &= objects(s, v, path, quiet, depth);
        return ok;
    }

  private:
    bool fail(const std::string& path, const std::string& keyword, const std::string& message, bool quiet) {
        if (!quiet && errors_.size() < o_.max_errors) errors_.push_back({path, keyword, message});
        return false;
    }

    const json* resolve(const std::string& ref) {
        if (ref.empty() || ref[0] != '#') return nullptr;
        if (ref.size() > 1 && ref[1] != '/') {
            // #anchor
            return find_anchor(root_, ref.substr(1));
        }
        const json* cur = &root_;
        size_t i = 1;
        while (i < ref.size()) {
            const size_t next = ref.find('/', i + 1);
            std::string tok = ref.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1), un;
            for (size_t k = 0; k < tok.size(); ++k) {
                if (tok[k] == '~' && k + 1 < tok.size()) un += tok[++k] == '1' ? '/' : '~';
                else if (tok[k] == '%' && k + 2 < tok.size()) un += static_cast<char>(std::stoi(tok.substr(k + 1, 2), nullptr, 16)), k += 2;
                else un += tok[k];
            }
            if (cur->is_object() && cur->contains(un)) cur = &(*cur)[un];
            else if (cur->is_array() && !un.empty() && un.find_first_not_of("0123456789") == std::string::npos && std::stoul(un) < cur->size()) cur = &(*cur)[std::stoul(un)];
            else return nullptr;
            i = next == std::string::npos ? ref.size() : next;
        }
        return cur;
    }

    const json* find_anchor(const json& s, const std::string& name) {
        if (s.is_object()) {
            if (auto it = s.find("$anchor"); it != s.end() && *it == name) return &s;
            for (auto it = s.begin(); it != s.end(); ++it) {
                if (const json* f = find_anchor(*it, name)) return f;
            }
        } else if (s.is_array()) {
            for (const auto& e : s) {
                if (const json* f = find_anchor(e, name)) return f;
            }
        }
        return nullptr;
    }

    bool numbers(const json& s, double x, const std::string& path, bool quiet) {
        bool ok = true;
        auto num = [&](const char* k, double& out) {
            auto it = s.find(k);
            if (it == s.end() || !it->is_number()) return false;
            out = it->get<double>();
            return true;
        };
        double b;
        if (num("minimum", b) && x < b) ok &= fail(path, "minimum", "below " + std::to_string(b), quiet);
        if (num("maximum", b) && x > b) ok &= fail(path, "maximum", "above " + std::to_string(b), quiet);
        if (num("exclusiveMinimum", b) && x <= b) ok &= fail(path, "exclusiveMinimum", "not above " + std::to_string(b), quiet);
        if (num("exclusiveMaximum", b) && x >= b) ok &= fail(path, "exclusiveMaximum", "not below " + std::to_string(b), quiet);
        if (num("multipleOf", b) && b > 0) {
            const double q = x / b;
            if (!std::isfinite(q) || std::fabs(q - std::round(q)) > 1e-9 * std::max(1.0, std::fabs(q))) {
                ok &= fail(path, "multipleOf", "not a multiple of " + std::to_string(b), quiet);
            }
        }
        return ok;
    }

    bool strings(const json& s, const std::string& x, const std::string& path, bool quiet) {
        bool ok = true;
        const size_t n = code_points(x);
        if (auto it = s.find("minLength"); it != s.end() && it->is_number() && n < it->get<double>()) ok &= fail(path, "minLength", "too short", quiet);
        if (auto it = s.find("maxLength"); it != s.end() && it->is_number() && n > it->get<double>()) ok &= fail(path, "maxLength", "too long", quiet);
        if (auto it = s.find("pattern"); it != s.end() && it->is_string() && !regexes().search(*it, x)) {
            ok &= fail(path, "pattern", "does not match " + it->get<std::string>(), quiet);
        }
        if (auto it = s.find("format"); o_.assert_formats && it != s.end() && it->is_string() && !format_ok(*it, x)) {
            ok &= fail(path, "format", "not a valid " + it->get<std::string>(), quiet);
        }
        return ok;
    }

    bool arrays(const json& s, const json& a, const std::string& path, bool quiet, int depth) {
        bool ok = true;
        auto at = [&](size_t i) { return path + "/" + std::to_string(i); };
        size_t prefix = 0;
        if (auto it = s.find("prefixItems"); it != s.end() && it->is_array()) {
            prefix = std::min(it->size(), a.size());
            for (size_t i = 0; i < prefix; ++i) ok &= check((*it)[i], a[i], at(i), quiet, depth + 1);
        }
        if (auto it = s.find("items"); it != s.end()) {
            if (it->is_array()) {  // draft-07 tuple form
                const size_t n = std::min(it->size(), a.size());
                for (size_t i = 0; i < n; ++i) ok &= check((*it)[i], a[i], at(i), quiet, depth + 1);
                if (auto add = s.find("additionalItems"); add != s.end()) {
                    for (size_t i = n; i < a.size(); ++i) ok &= check(*add, a[i], at(i), quiet, depth + 1);
                }
            } else {
                for (size_t i = prefix; i < a.size(); ++i) ok &= check(*it, a[i], at(i), quiet, depth + 1);
            }
        }
        if (auto it = s.find("minItems"); it != s.end() && it->is_number() && a.size() < it->get<double>()) ok &= fail(path, "minItems", "too few items", quiet);
        if (auto it = s.find("maxItems"); it != s.end() && it->is_number() && a.size() > it->get<double>()) ok &= fail(path, "maxItems", "too many items", quiet);
        if (auto it = s.find("uniqueItems"); it != s.end() && it->is_boolean() && it->get<bool>()) {
            for (size_t i = 0; i < a.size(); ++i) {
                for (size_t j = i + 1; j < a.size(); ++j) {
                    if (equal(a[i], a[j])) {
                        ok &= fail(path, "uniqueItems", "items " + std::to_string(i) + " and " + std::to_string(j) + " are equal", quiet);
                        i = j = a.size();
                    }
                }
            }
        }
        if (auto it = s.find("contains"); it != s.end()) {
            size_t matches = 0;
            for (const auto& e : a) matches += check(*it, e, path, true, depth + 1);
            double lo = 1, hi = INFINITY;
            if (auto m = s.find("minContains"); m != s.end() && m->is_number()) lo = m->get<double>();
            if (auto m = s.find("maxContains"); m != s.end() && m->is_number()) hi = m->get<double>();
            if (matches < lo || matches > hi) ok &= fail(path, "contains", std::to_string(matches) + " items match 'contains'", quiet);
        }
        return ok;
    }

    bool objects(const json& s, const json& o, const std::string& path, bool quiet, int depth) {
        bool ok = true;
        auto at = [&](const std::string& k) { return path + "/" + k; };
        if (auto it = s.find("required"); it != s.end() && it->is_array()) {
            for (const auto& r : *it) {
                if (r.is_string() && !o.contains(r.get<std::string>())) ok &= fail(path, "required", "missing property " + r.dump(), quiet);
            }
        }
        if (auto it = s.find("minProperties"); it != s.end() && it->is_number() && o.size() < it->get<double>()) ok &= fail(path, "minProperties", "too few properties", quiet);
        if (auto it = s.find("maxProperties"); it != s.end() && it->is_number() && o.size() > it->get<double>()) ok &= fail(path, "maxProperties", "too many properties", quiet);
        const json* props = s.contains("properties") && s["properties"].is_object() ? &s["properties"] : nullptr;
        const json* pattern_props = s.contains("patternProperties") && s["patternProperties"].is_object() ? &s["patternProperties"] : nullptr;
        const json* additional = s.contains("additionalProperties") ? &s["additionalProperties"] : nullptr;
        for (auto it = o.begin(); it != o.end(); ++it) {
            bool described = false;
            if (props != nullptr && props->contains(it.key())) {
                described = true;
                ok &= check((*props)[it.key()], *it, at(it.key()), quiet, depth + 1);
            }
            if (pattern_props != nullptr) {
                for (auto p = pattern_props->begin(); p != pattern_props->end(); ++p) {
                    if (regexes().search(p.key(), it.key())) {
                        described = true;
                        ok &= check(*p, *it, at(it.key()), quiet, depth + 1);
                    }
                }
            }
            if (!described && additional != nullptr) ok &= check(*additional, *it, at(it.key()), quiet, depth + 1);
            if (auto pn = s.find("propertyNames"); pn != s.end()) ok &= check(*pn, json(it.key()), at(it.key()), quiet, depth + 1);
        }
        if (auto it = s.find("dependentRequired"); it != s.end() && it->is_object()) {
            for (auto d = it->begin(); d != it->end(); ++d) {
                if (!o.contains(d.key()) || !d->is_array()) continue;
                for (const auto& r : *d) {
                    if (r.is_string() && !o.contains(r.get<std::string>())) ok &= fail(path, "dependentRequired", d.key() + " needs " + r.dump(), quiet);
                }
            }
        }
        if (auto it = s.find("dependentSchemas"); it != s.end() && it->is_object()) {
            for (auto d = it->begin(); d != it->end(); ++d) {
                if (o.contains(d.key())) ok &= check(*d, o, path, quiet, depth + 1);
            }
        }
        // draft-07 "dependencies": arrays (required) or schemas.
        if (auto it = s.find("dependencies"); it != s.end() && it->is_object()) {
            for (auto d = it->begin(); d != it->end(); ++d) {
                if (!o.contains(d.key())) continue;
                if (d->is_array()) {
                    for (const auto& r : *d) {
                        if (r.is_string() && !o.contains(r.get<std::string>())) ok &= fail(path, "dependencies", d.key() + " needs " + r.dump(), quiet);
                    }
                } else {
                    ok &= check(*d, o, path, quiet, depth + 1);
                }
            }
        }
        return ok;
    }

    const json& root_;
    const ValidatorOptions& o_;
    std::vector<ValidationError>& errors_;
};

}  // namespace

Result<Validator> Validator::compile(json schema, const ValidatorOptions& options) {
    if (!schema.is_object() && !schema.is_boolean()) return Error{"json schema: a schema must be an object or a boolean"};
    Validator v;
    v.schema_ = std::move(schema);
    v.options_ = options;
    return v;
}

std::vector<ValidationError> Validator::validate(const json& instance) const {
    std::vector<ValidationError> errors;
    try {
        Run(schema_, options_, errors).check(schema_, instance, "", false, 0);
    } catch (const std::exception& e) {
        errors.push_back({"", "", std::string("malformed schema: ") + e.what()});
    }
    return errors;
}

}  // namespace tf::jsonschema
