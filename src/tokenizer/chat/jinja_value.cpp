#include "tokenizer/chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace tf::jinja {

const Value* Object::find(const std::string& key) const {
    for (const auto& [k, v] : items) {
        if (k == key) return &v;
    }
    return nullptr;
}
Value* Object::find(const std::string& key) {
    for (auto& [k, v] : items) {
        if (k == key) return &v;
    }
    return nullptr;
}
void Object::set(const std::string& key, Value v) {
    if (Value* existing = find(key)) *existing = std::move(v);
    else items.emplace_back(key, std::move(v));
}

Value Value::none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
}
Value::Value(bool b) : kind_(Kind::Bool), b_(b) {}
Value::Value(int64_t i) : kind_(Kind::Int), i_(i) {}
Value::Value(double f) : kind_(Kind::Float), f_(f) {}
Value::Value(std::string s) : kind_(Kind::String), s_(std::make_shared<std::string>(std::move(s))) {}
Value Value::array(Array a) {
    Value v;
    v.kind_ = Kind::Array;
    v.a_ = std::make_shared<Array>(std::move(a));
    return v;
}
Value Value::object(Object o) {
    Value v;
    v.kind_ = Kind::Object;
    v.o_ = std::make_shared<Object>(std::move(o));
    return v;
}
Value Value::function(Function f) {
    Value v;
    v.kind_ = Kind::Function;
    v.fn_ = std::make_shared<Function>(std::move(f));
    return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return none();
        case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: return Value(static_cast<int64_t>(j.get<uint64_t>()));
        case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            Array a;
            for (const auto& e : j) a.push_back(from_json(e));
            return array(std::move(a));
        }
        case nlohmann::ordered_json::value_t::object: {
            Object o;
            for (const auto& [k, e] : j.items()) o.items.emplace_back(k, from_json(e));
            return object(std::move(o));
        }
        default: return Value();
    }
}

int64_t Value::as_int() const {
    if (kind_ == Kind::Bool) return b_ ? 1 : 0;
    if (kind_ != Kind::Float) return i_;
    if (std::isnan(f_)) return 0;
    if (f_ >= 9.2e18) return INT64_MAX;
    if (f_ <= -9.2e18) return INT64_MIN;
    return static_cast<int64_t>(f_);
}

int Value::depth(int limit) const {
    if (limit < 0) return 1;
    int best = 0;
    if (kind_ == Kind::Array) {
        for (const Value& v : *a_) best = std::max(best, v.depth(limit - 1));
        return best + 1;
    }
    if (kind_ == Kind::Object) {
        for (const auto& kv : o_->items) best = std::max(best, kv.second.depth(limit - 1));
        return best + 1;
    }
    return 0;
}

bool Value::contains_storage(const void* container, int limit) const {
    if (storage() != nullptr && storage() == container) return true;
    if (limit <= 0) return false;
    if (kind_ == Kind::Array) {
        for (const Value& v : *a_) {
            if (v.contains_storage(container, limit - 1)) return true;
        }
    } else if (kind_ == Kind::Object) {
        for (const auto& kv : o_->items) {
            if (kv.second.contains_storage(container, limit - 1)) return true;
        }
    }
    return false;
}

bool Value::truthy() const {
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool: return b_;
        case Kind::Int: return i_ != 0;
        case Kind::Float: return f_ != 0.0;
        case Kind::String: return !s_->empty();
        case Kind::Array: return !a_->empty();
        case Kind::Object: return !o_->items.empty();
        case Kind::Function: return true;
    }
    return false;
}

std::string python_float_repr(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
    // Shortest round-tripping digits, laid out as Python's repr does: positional for
    // 1e-4 <= |v| < 1e16, otherwise d.ddde+XX.
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string sci(buf, r.ptr);
    const size_t e = sci.find('e');
    std::string mant = sci.substr(0, e);
    const int exp = std::stoi(sci.substr(e + 1));
    const bool neg = mant[0] == '-';
    if (neg) mant.erase(0, 1);
    std::string digits;
    for (char c : mant) {
        if (c != '.') digits.push_back(c);
    }
    std::string out;
    if (exp >= 16 || exp < -4) {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        out += eb;
    } else if (exp >= 0) {
        if (static_cast<int>(digits.size()) <= exp + 1) {
            out = digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
        }
    } else {
        out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
    return neg ? "-" + out : out;
}

std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    return out + "\"";
}

static std::string py_quote(const std::string& s) {
    const bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
    const char q = has_single && !has_double ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        if (c == static_cast<unsigned char>(q) || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else out.push_back(static_cast<char>(c));
    }
    out.push_back(q);
    return out;
}

std::string Value::str() const {
    switch (kind_) {
        case Kind::Undefined: return "";
        case Kind::String: return *s_;
        default: return repr();
    }
}

std::string Value::repr() const {
    switch (kind_) {
        case Kind::Undefined: return "";
        case Kind::None: return "None";
        case Kind::Bool: return b_ ? "True" : "False";
        case Kind::Int: return std::to_string(i_);
        case Kind::Float: return python_float_repr(f_);
        case Kind::String: return py_quote(*s_);
        case Kind::Array: {
            std::string out = "[";
            for (size_t i = 0; i < a_->size(); ++i) {
                if (i) out += ", ";
                out += (*a_)[i].repr();
            }
            return out + "]";
        }
        case Kind::Object: {
            std::string out = "{";
            bool first = true;
            for (const auto& [k, v] : o_->items) {
                if (!first) out += ", ";
                first = false;
                out += py_quote(k) + ": " + v.repr();
            }
            return out + "}";
        }
        case Kind::Function: return "<function>";
    }
    return "";
}

void Value::json_into(std::string& out, int indent, int depth, const std::string& item_sep, const std::string& key_sep,
                      bool sort_keys) const {
    auto newline = [&](int d) {
        if (indent < 0) return;
        out.push_back('\n');
        out.append(static_cast<size_t>(indent * d), ' ');
    };
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None: out += "null"; return;
        case Kind::Bool: out += b_ ? "true" : "false"; return;
        case Kind::Int: out += std::to_string(i_); return;
        case Kind::Float:
            out += std::isnan(f_) ? "NaN" : std::isinf(f_) ? (f_ > 0 ? "Infinity" : "-Infinity") : python_float_repr(f_);
            return;
        case Kind::String: out += json_quote(*s_); return;
        case Kind::Array: {
            if (a_->empty()) {
                out += "[]";
                return;
            }
            out += "[";
            for (size_t i = 0; i < a_->size(); ++i) {
                if (i) out += indent >= 0 ? "," : item_sep;
                newline(depth + 1);
                (*a_)[i].json_into(out, indent, depth + 1, item_sep, key_sep, sort_keys);
            }
            newline(depth);
            out += "]";
            return;
        }
        case Kind::Object: {
            if (o_->items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<std::string, Value>*> items;
            for (const auto& kv : o_->items) items.push_back(&kv);
            if (sort_keys) std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
            out += "{";
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += indent >= 0 ? "," : item_sep;
                newline(depth + 1);
                out += json_quote(items[i]->first);
                out += key_sep;
                items[i]->second.json_into(out, indent, depth + 1, item_sep, key_sep, sort_keys);
            }
            newline(depth);
            out += "}";
            return;
        }
        case Kind::Function: out += "null"; return;
    }
}

std::string Value::to_json(int indent, const std::string& item_sep, const std::string& key_sep, bool sort_keys) const {
    std::string out;
    json_into(out, indent, 0, item_sep, key_sep, sort_keys);
    return out;
}

size_t Value::length() const {
    switch (kind_) {
        case Kind::String: {
            size_t n = 0;  // code points, as Python's len()
            for (unsigned char c : *s_) n += (c & 0xC0) != 0x80;
            return n;
        }
        case Kind::Array: return a_->size();
        case Kind::Object: return o_->items.size();
        default: return 0;
    }
}

bool Value::operator==(const Value& o) const {
    if (is_number() && o.is_number()) return as_double() == o.as_double();
    if ((is_bool() && o.is_number()) || (is_number() && o.is_bool())) return as_double() == o.as_double();
    if (kind_ != o.kind_) return (is_undefined() || is_none()) && (o.is_undefined() || o.is_none()) && kind_ == o.kind_;
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None: return true;
        case Kind::Bool: return b_ == o.b_;
        case Kind::String: return *s_ == *o.s_;
        case Kind::Array: return *a_ == *o.a_;
        case Kind::Object: {
            if (o_->items.size() != o.o_->items.size()) return false;
            for (const auto& [k, v] : o_->items) {
                const Value* other = o.o_->find(k);
                if (other == nullptr || !(*other == v)) return false;
            }
            return true;
        }
        default: return false;
    }
}

int Value::compare(const Value& o, bool* ok) const {
    *ok = true;
    if ((is_number() || is_bool()) && (o.is_number() || o.is_bool())) {
        const double a = as_double(), b = o.as_double();
        return a < b ? -1 : a > b ? 1 : 0;
    }
    if (is_string() && o.is_string()) return s_->compare(*o.s_) < 0 ? -1 : *s_ == *o.s_ ? 0 : 1;
    if (is_array() && o.is_array()) {
        for (size_t i = 0; i < std::min(a_->size(), o.a_->size()); ++i) {
            const int c = (*a_)[i].compare((*o.a_)[i], ok);
            if (!*ok || c != 0) return c;
        }
        return a_->size() < o.a_->size() ? -1 : a_->size() > o.a_->size() ? 1 : 0;
    }
    *ok = false;
    return 0;
}

const char* Value::type_name() const {
    switch (kind_) {
        case Kind::Undefined: return "undefined";
        case Kind::None: return "none";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::String: return "string";
        case Kind::Array: return "list";
        case Kind::Object: return "dict";
        case Kind::Function: return "function";
    }
    return "?";
}

const Value* CallArgs::get(size_t index, const std::string& name) const {
    for (const auto& [k, v] : keyword) {
        if (k == name) return &v;
    }
    return index < positional.size() ? &positional[index] : nullptr;
}

}  // namespace tf::jinja
