#include "gguf/value.h"

#include <array>
#include <cstdio>

namespace tf::gguf {

std::string_view value_type_name(ValueType t) {
    static constexpr std::array<std::string_view, kValueTypeCount> names = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    auto i = static_cast<uint32_t>(t);
    return i < names.size() ? names[i] : std::string_view("?");
}

size_t value_type_scalar_size(ValueType t) {
    switch (t) {
        case ValueType::U8:
        case ValueType::I8:
        case ValueType::BOOL: return 1;
        case ValueType::U16:
        case ValueType::I16: return 2;
        case ValueType::U32:
        case ValueType::I32:
        case ValueType::F32: return 4;
        case ValueType::U64:
        case ValueType::I64:
        case ValueType::F64: return 8;
        case ValueType::STRING:
        case ValueType::ARRAY: return 0;
    }
    return 0;
}

template <typename T>
static T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

std::optional<int64_t> scalar_bytes_to_int(ValueType t, const uint8_t* p) {
    switch (t) {
        case ValueType::U8: return load<uint8_t>(p);
        case ValueType::I8: return load<int8_t>(p);
        case ValueType::U16: return load<uint16_t>(p);
        case ValueType::I16: return load<int16_t>(p);
        case ValueType::U32: return load<uint32_t>(p);
        case ValueType::I32: return load<int32_t>(p);
        case ValueType::I64: return load<int64_t>(p);
        case ValueType::BOOL: return load<uint8_t>(p) != 0;
        case ValueType::U64: {
            uint64_t v = load<uint64_t>(p);
            if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
            return static_cast<int64_t>(v);
        }
        default: return std::nullopt;
    }
}

std::optional<double> scalar_bytes_to_double(ValueType t, const uint8_t* p) {
    if (t == ValueType::F32) return load<float>(p);
    if (t == ValueType::F64) return load<double>(p);
    if (t == ValueType::U64) return static_cast<double>(load<uint64_t>(p));
    auto i = scalar_bytes_to_int(t, p);
    if (i) return static_cast<double>(*i);
    return std::nullopt;
}

Value Value::scalar(ValueType type, const void* bytes) {
    Value v;
    v.type_ = type;
    std::memcpy(v.scalar_, bytes, value_type_scalar_size(type));
    return v;
}

Value Value::string(std::string s) {
    Value v;
    v.type_ = ValueType::STRING;
    v.string_ = std::move(s);
    return v;
}

Value Value::string_array(std::vector<std::string> items) {
    Value v;
    v.type_ = ValueType::ARRAY;
    v.array_type_ = ValueType::STRING;
    v.array_size_ = items.size();
    v.strings_ = std::move(items);
    return v;
}

Value Value::scalar_array(ValueType element_type, std::vector<uint8_t> packed, uint64_t count) {
    Value v;
    v.type_ = ValueType::ARRAY;
    v.array_type_ = element_type;
    v.array_size_ = count;
    v.packed_ = std::move(packed);
    return v;
}

Value Value::nested_array(std::vector<Value> items) {
    Value v;
    v.type_ = ValueType::ARRAY;
    v.array_type_ = ValueType::ARRAY;
    v.array_size_ = items.size();
    v.nested_ = std::move(items);
    return v;
}

Value Value::f32_array(const std::vector<float>& items) {
    std::vector<uint8_t> packed(items.size() * 4);
    if (!items.empty()) std::memcpy(packed.data(), items.data(), packed.size());
    return scalar_array(ValueType::F32, std::move(packed), items.size());
}

Value Value::i32_array(const std::vector<int32_t>& items) {
    std::vector<uint8_t> packed(items.size() * 4);
    if (!items.empty()) std::memcpy(packed.data(), items.data(), packed.size());
    return scalar_array(ValueType::I32, std::move(packed), items.size());
}

std::optional<int64_t> Value::as_int() const {
    if (!value_type_is_scalar(type_)) return std::nullopt;
    if (type_ == ValueType::F32 || type_ == ValueType::F64) return std::nullopt;
    return scalar_bytes_to_int(type_, scalar_);
}

std::optional<uint64_t> Value::as_uint() const {
    if (type_ == ValueType::U64) return load<uint64_t>(scalar_);
    auto i = as_int();
    if (!i || *i < 0) return std::nullopt;
    return static_cast<uint64_t>(*i);
}

std::optional<double> Value::as_double() const {
    if (!value_type_is_scalar(type_)) return std::nullopt;
    return scalar_bytes_to_double(type_, scalar_);
}

std::optional<bool> Value::as_bool() const {
    if (type_ == ValueType::BOOL) return scalar_[0] != 0;
    auto i = as_int();
    if (i) return *i != 0;
    return std::nullopt;
}

std::optional<int64_t> Value::array_int(uint64_t i) const {
    if (type_ != ValueType::ARRAY || !value_type_is_scalar(array_type_) || i >= array_size_) return std::nullopt;
    if (array_type_ == ValueType::F32 || array_type_ == ValueType::F64) return std::nullopt;
    return scalar_bytes_to_int(array_type_, packed_.data() + i * value_type_scalar_size(array_type_));
}

std::optional<double> Value::array_double(uint64_t i) const {
    if (type_ != ValueType::ARRAY || !value_type_is_scalar(array_type_) || i >= array_size_) return std::nullopt;
    return scalar_bytes_to_double(array_type_, packed_.data() + i * value_type_scalar_size(array_type_));
}

static std::string quote(const std::string& s, size_t max_len) {
    std::string out = "\"";
    size_t n = 0;
    for (unsigned char c : s) {
        if (n++ >= max_len) {
            out += "…";
            break;
        }
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '"') out += "\\\"";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else out.push_back(static_cast<char>(c));
    }
    return out + "\"";
}

static std::string number_string(ValueType t, const uint8_t* p) {
    char buf[64];
    if (t == ValueType::F32) {
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(load<float>(p)));
    } else if (t == ValueType::F64) {
        std::snprintf(buf, sizeof buf, "%g", load<double>(p));
    } else if (t == ValueType::BOOL) {
        return p[0] ? "true" : "false";
    } else if (t == ValueType::U64) {
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(load<uint64_t>(p)));
    } else {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(*scalar_bytes_to_int(t, p)));
    }
    return buf;
}

std::string Value::to_display_string(size_t max_items) const {
    if (type_ == ValueType::STRING) return quote(string_, 120);
    if (type_ != ValueType::ARRAY) return number_string(type_, scalar_);
    std::string out = "[";
    uint64_t shown = std::min<uint64_t>(array_size_, max_items);
    for (uint64_t i = 0; i < shown; ++i) {
        if (i) out += ", ";
        if (array_type_ == ValueType::STRING) out += quote(strings_[i], 40);
        else if (array_type_ == ValueType::ARRAY) out += nested_[i].to_display_string(max_items);
        else out += number_string(array_type_, packed_.data() + i * value_type_scalar_size(array_type_));
    }
    if (shown < array_size_) out += ", … (" + std::to_string(array_size_) + " items)";
    return out + "]";
}

}  // namespace tf::gguf
