// Values of the Jinja-subset interpreter, with Python's semantics where templates rely on them
// (truthiness, str() and repr() output, json.dumps output, equality and ordering).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace tf::jinja {

class Value;
struct CallArgs;
using Array = std::vector<Value>;
struct Object {
    std::vector<std::pair<std::string, Value>> items;  // insertion order, like a Python dict
    bool is_namespace = false;
    const Value* find(const std::string& key) const;
    Value* find(const std::string& key);
    void set(const std::string& key, Value v);
};
using Function = std::function<Value(CallArgs&)>;

class Value {
  public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Function };

    Value() = default;
    static Value none();
    Value(bool b);
    Value(int64_t i);
    Value(int i) : Value(static_cast<int64_t>(i)) {}
    Value(double f);
    Value(std::string s);
    Value(const char* s) : Value(std::string(s)) {}
    static Value array(Array a = {});
    static Value object(Object o = {});
    static Value function(Function f);
    static Value from_json(const nlohmann::ordered_json& j);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int; }
    bool is_float() const { return kind_ == Kind::Float; }
    bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_array() const { return kind_ == Kind::Array; }
    bool is_object() const { return kind_ == Kind::Object; }
    bool is_function() const { return kind_ == Kind::Function; }

    bool as_bool() const { return b_; }
    int64_t as_int() const;  // floats truncate, saturating at the int64 range (NaN gives 0)
    double as_double() const { return kind_ == Kind::Int ? static_cast<double>(i_) : kind_ == Kind::Bool ? b_ : f_; }
    const std::string& as_string() const { return *s_; }
    Array& as_array() const { return *a_; }
    Object& as_object() const { return *o_; }
    const Function& as_function() const { return *fn_; }

    bool truthy() const;
    std::string str() const;   // Python str()
    std::string repr() const;  // Python repr()
    // json.dumps(indent, separators, sort_keys) with ensure_ascii=False.
    std::string to_json(int indent = -1, const std::string& item_sep = ", ", const std::string& key_sep = ": ",
                        bool sort_keys = false) const;
    size_t length() const;
    bool operator==(const Value& other) const;
    // <0, 0, >0; false in `ok` when the types cannot be ordered.
    int compare(const Value& other, bool* ok) const;
    const char* type_name() const;
    // Nesting depth of lists/dicts, counting at most up to limit + 1 (cheap for shallow values).
    int depth(int limit) const;
    // Whether this value is, or contains, the list/dict whose storage is `container`.
    bool contains_storage(const void* container, int limit) const;
    const void* storage() const { return a_ ? static_cast<const void*>(a_.get()) : static_cast<const void*>(o_.get()); }

  private:
    void json_into(std::string& out, int indent, int depth, const std::string& item_sep, const std::string& key_sep,
                   bool sort_keys) const;
    Kind kind_ = Kind::Undefined;
    bool b_ = false;
    int64_t i_ = 0;
    double f_ = 0;
    std::shared_ptr<std::string> s_;
    std::shared_ptr<Array> a_;  // shared: lists and dicts are references, as in Python
    std::shared_ptr<Object> o_;
    std::shared_ptr<Function> fn_;
};

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
    const Value* get(size_t index, const std::string& name) const;  // positional index or keyword name
};

std::string python_float_repr(double v);
std::string json_quote(const std::string& s);

}  // namespace tf::jinja
