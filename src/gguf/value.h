// A GGUF metadata value. Layout on disk (little-endian): u32 type, then the payload —
// scalars as their bytes, strings as u64 length + bytes, arrays as u32 element type + u64 count +
// elements (arrays may nest). Scalar arrays are kept packed, as on disk, so a 150k-entry score
// table is one allocation and writes back byte for byte.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tf::gguf {

enum class ValueType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};

constexpr uint32_t kValueTypeCount = 13;
std::string_view value_type_name(ValueType t);
size_t value_type_scalar_size(ValueType t);  // 0 for STRING and ARRAY
inline bool value_type_is_scalar(ValueType t) { return t != ValueType::STRING && t != ValueType::ARRAY; }
inline bool value_type_is_integer(ValueType t) {
    return t == ValueType::U8 || t == ValueType::I8 || t == ValueType::U16 || t == ValueType::I16 ||
           t == ValueType::U32 || t == ValueType::I32 || t == ValueType::U64 || t == ValueType::I64;
}

class Value {
  public:
    Value() = default;

    static Value u8(uint8_t v) { return scalar(ValueType::U8, &v); }
    static Value i8(int8_t v) { return scalar(ValueType::I8, &v); }
    static Value u16(uint16_t v) { return scalar(ValueType::U16, &v); }
    static Value i16(int16_t v) { return scalar(ValueType::I16, &v); }
    static Value u32(uint32_t v) { return scalar(ValueType::U32, &v); }
    static Value i32(int32_t v) { return scalar(ValueType::I32, &v); }
    static Value u64(uint64_t v) { return scalar(ValueType::U64, &v); }
    static Value i64(int64_t v) { return scalar(ValueType::I64, &v); }
    static Value f32(float v) { return scalar(ValueType::F32, &v); }
    static Value f64(double v) { return scalar(ValueType::F64, &v); }
    static Value boolean(bool v) {
        uint8_t b = v ? 1 : 0;
        return scalar(ValueType::BOOL, &b);
    }
    static Value string(std::string s);
    // Raw little-endian scalar bytes, as read from a file (size must match the type).
    static Value scalar(ValueType type, const void* bytes);

    static Value string_array(std::vector<std::string> items);
    static Value scalar_array(ValueType element_type, std::vector<uint8_t> packed, uint64_t count);
    static Value nested_array(std::vector<Value> items);  // elements are themselves arrays
    static Value f32_array(const std::vector<float>& v);
    static Value i32_array(const std::vector<int32_t>& v);

    ValueType type() const { return type_; }
    bool is_array() const { return type_ == ValueType::ARRAY; }
    bool is_string() const { return type_ == ValueType::STRING; }

    // Numeric view of any integer/float/bool scalar; nullopt for other kinds, or when the value
    // does not fit the requested type (a negative number asked for as unsigned, say).
    std::optional<int64_t> as_int() const;
    std::optional<uint64_t> as_uint() const;
    std::optional<double> as_double() const;
    std::optional<bool> as_bool() const;
    const std::string* as_string() const { return type_ == ValueType::STRING ? &string_ : nullptr; }

    // Arrays
    ValueType array_type() const { return array_type_; }
    uint64_t array_size() const { return array_size_; }
    const std::vector<std::string>& array_strings() const { return strings_; }
    const std::vector<Value>& array_values() const { return nested_; }
    const std::vector<uint8_t>& array_packed() const { return packed_; }
    // Element i of a scalar array as a number.
    std::optional<int64_t> array_int(uint64_t i) const;
    std::optional<double> array_double(uint64_t i) const;

    // Scalar payload bytes (exactly value_type_scalar_size(type())).
    const uint8_t* scalar_bytes() const { return scalar_; }

    // A short human rendering (arrays abbreviated) for inspect.
    std::string to_display_string(size_t max_items = 8) const;

  private:
    ValueType type_ = ValueType::U8;
    uint8_t scalar_[8] = {};
    std::string string_;
    ValueType array_type_ = ValueType::U8;
    uint64_t array_size_ = 0;
    std::vector<uint8_t> packed_;       // scalar arrays
    std::vector<std::string> strings_;  // string arrays
    std::vector<Value> nested_;         // arrays of arrays
};

// Reads a scalar of type t from raw bytes as a double/int (helpers for packed arrays).
std::optional<int64_t> scalar_bytes_to_int(ValueType t, const uint8_t* p);
std::optional<double> scalar_bytes_to_double(ValueType t, const uint8_t* p);

}  // namespace tf::gguf
