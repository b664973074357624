// Go text/template: evaluating the tree over JSON data, printing values as Go prints them, and
// Ollama's json function (Go's json.Marshal).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

#include "tokenizer/chat/go_template_ast.h"

namespace tf::chat::go {

namespace {

// ---------------------------------------------------------------- values

bool truthy(const Value& v) {
    switch (v.type()) {
        case Value::value_t::null:
            return false;
        case Value::value_t::boolean:
            return v.get<bool>();
        case Value::value_t::string:
            return !v.get_ref<const std::string&>().empty();
        case Value::value_t::number_integer:
            return v.get<int64_t>() != 0;
        case Value::value_t::number_unsigned:
            return v.get<uint64_t>() != 0;
        case Value::value_t::number_float:
            return v.get<double>() != 0.0;
        case Value::value_t::array:
        case Value::value_t::object:
            return !v.empty();
        default:
            return true;
    }
}

// Go's %v for a float64: the shortest representation that reads back, exponent form from 1e21.
std::string format_float(double d) {
    if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
    if (std::isnan(d)) return "NaN";
    char buf[40];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::string s = buf;
    // %g switches to exponent form from 1e(prec); Go's %v from 1e21 (and below 1e-4).
    const double a = std::fabs(d);
    if (s.find('e') != std::string::npos && a >= 1e-4 && a < 1e21) {
        std::snprintf(buf, sizeof buf, "%.0f", d);
        s = buf;
        if (std::strtod(buf, nullptr) != d) {
            std::snprintf(buf, sizeof buf, "%.17g", d);
            s = buf;
        }
    }
    // Go writes e+06 as e+06 too, but never e+006; C agrees on two digits minimum.
    return s;
}

std::string print_value(const Value& v);

std::string print_scalar_or_list(const Value& v) {
    switch (v.type()) {
        case Value::value_t::null:
            return "<nil>";
        case Value::value_t::boolean:
            return v.get<bool>() ? "true" : "false";
        case Value::value_t::string:
            return v.get<std::string>();
        case Value::value_t::number_integer:
            return std::to_string(v.get<int64_t>());
        case Value::value_t::number_unsigned:
            return std::to_string(v.get<uint64_t>());
        case Value::value_t::number_float:
            return format_float(v.get<double>());
        case Value::value_t::object:
            return marshal(v);
        case Value::value_t::array: {
            bool objects = !v.empty();
            for (const auto& e : v) objects = objects && e.is_object();
            if (objects) return marshal(v);
            std::string s = "[";
            for (size_t i = 0; i < v.size(); ++i) {
                if (i) s += ' ';
                s += print_scalar_or_list(v[i]);
            }
            return s + "]";
        }
        default:
            return "";
    }
}

// What {{ pipeline }} writes for a value; null is a missing value here.
std::string print_value(const Value& v) {
    if (v.is_null()) return "<no value>";
    return print_scalar_or_list(v);
}

std::string type_name(const Value& v) {
    switch (v.type()) {
        case Value::value_t::null:
            return "nil";
        case Value::value_t::boolean:
            return "bool";
        case Value::value_t::string:
            return "string";
        case Value::value_t::number_integer:
        case Value::value_t::number_unsigned:
            return "int";
        case Value::value_t::number_float:
            return "float64";
        case Value::value_t::array:
            return "slice";
        case Value::value_t::object:
            return "map";
        default:
            return "value";
    }
}

// ---------------------------------------------------------------- execution

constexpr size_t kMaxOutput = size_t(16) << 20;
constexpr uint64_t kMaxSteps = 10'000'000;

struct Break {};
struct Continue {};

class Exec {
  public:
    Exec(const Value& root, const Fields* fields) : fields_(fields) { scopes_.push_back({{"$", root}}); }

    Status run(const NodeList& nodes, const Value& dot) {
        try {
            walk(nodes, dot);
        } catch (const Error& e) {
            return e;
        }
        return {};
    }
    std::string out;

  private:
    [[noreturn]] void fail(int line, const std::string& m) { throw Error{"line " + std::to_string(line) + ": " + m}; }

    void step(int line) {
        if (++steps_ > kMaxSteps) fail(line, "template execution exceeded its budget");
        if (out.size() > kMaxOutput) fail(line, "template output exceeds 16 MiB");
    }

    void walk(const NodeList& nodes, const Value& dot) {
        for (const auto& n : nodes) node(*n, dot);
    }

    void node(const Node& n, const Value& dot) {
        step(n.line);
        switch (n.kind) {
            case Node::Kind::Text:
                out += n.text;
                return;
            case Node::Kind::Action: {
                Value v = pipeline(*n.pipe, dot);
                if (n.pipe->declared.empty()) out += print_value(v);
                return;
            }
            case Node::Kind::If:
            case Node::Kind::With: {
                scopes_.emplace_back();
                Value v = pipeline(*n.pipe, dot);
                if (truthy(v))
                    walk(n.list, n.kind == Node::Kind::With ? v : dot);
                else
                    walk(n.else_list, dot);
                scopes_.pop_back();
                return;
            }
            case Node::Kind::Range:
                range(n, dot);
                return;
            case Node::Kind::Break:
                throw Break{};
            case Node::Kind::Continue:
                throw Continue{};
        }
    }

    void range(const Node& n, const Value& dot) {
        scopes_.emplace_back();
        // The declared variables are set per element, not to the pipeline's value.
        Pipeline p = *n.pipe;
        const std::vector<std::string> names = p.declared;
        p.declared.clear();
        const Value v = pipeline(p, dot);
        auto each = [&](const Value& key, const Value& elem) {
            const size_t depth = scopes_.size();
            scopes_.emplace_back();
            if (names.size() == 1) scopes_.back()[names[0]] = elem;
            if (names.size() == 2) {
                scopes_.back()[names[0]] = key;
                scopes_.back()[names[1]] = elem;
            }
            bool stop = false;
            try {
                walk(n.list, elem);
            } catch (const Break&) {
                stop = true;
            } catch (const Continue&) {
            }
            scopes_.resize(depth);  // a break or continue skips the pops of the scopes it left
            return !stop;
        };
        bool any = false;
        if (v.is_array()) {
            for (size_t i = 0; i < v.size(); ++i) {
                any = true;
                if (!each(Value(static_cast<int64_t>(i)), v[i])) break;
            }
        } else if (v.is_object()) {
            for (auto it = v.begin(); it != v.end(); ++it) {
                any = true;
                if (!each(Value(it.key()), it.value())) break;
            }
        } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
            for (int64_t i = 0; i < v.get<int64_t>(); ++i) {
                any = true;
                if (!each(Value(i), Value(i))) break;
            }
        } else if (!v.is_null()) {
            fail(n.line, "range can't iterate over " + print_value(v));
        }
        if (!any) walk(n.else_list, dot);
        scopes_.pop_back();
    }

    Value* find_var(const std::string& name) {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
            if (auto f = it->find(name); f != it->end()) return &f->second;
        return nullptr;
    }

    Value pipeline(const Pipeline& p, const Value& dot) {
        Value v;
        bool have = false;
        for (const auto& c : p.commands) {
            v = command(c, dot, have ? &v : nullptr, p.line);
            have = true;
        }
        if (!p.declared.empty()) {
            if (p.assign) {
                Value* var = find_var(p.declared[0]);
                if (!var) fail(p.line, "undefined variable: " + p.declared[0]);
                *var = v;
            } else {
                scopes_.back()[p.declared[0]] = v;
            }
        }
        return v;
    }

    Value command(const Command& c, const Value& dot, const Value* final, int line) {
        const Operand& head = *c.args[0];
        if (head.kind == Operand::Kind::Function) return call(head.name, c, dot, final, line);
        if (c.args.size() > 1 || final) fail(line, "can't give argument to non-function");
        return operand(head, dot, line);
    }

    Value field(const Value& base, const std::vector<std::string>& chain, size_t from, int line) {
        Value v = base;
        for (size_t i = from; i < chain.size(); ++i) {
            const std::string& name = chain[i];
            if (v.is_object()) {
                auto it = v.find(name);
                if (it != v.end()) {
                    v = Value(*it);
                    continue;
                }
                // A struct's field: its JSON key, or its zero value when the JSON left it out.
                const auto f = fields_ ? fields_->find(name) : Fields::const_iterator{};
                if (fields_ && f != fields_->end()) {
                    auto k = v.find(f->second.first);
                    v = k == v.end() ? f->second.second : Value(*k);
                } else {
                    v = Value();
                }
            } else if (v.is_null()) {
                fail(line, "nil pointer evaluating interface {}." + name);
            } else {
                fail(line, "can't evaluate field " + name + " in type " + type_name(v));
            }
        }
        return v;
    }

    Value operand(const Operand& o, const Value& dot, int line) {
        switch (o.kind) {
            case Operand::Kind::Literal:
                return o.literal;
            case Operand::Kind::Dot:
                return dot;
            case Operand::Kind::Field:
                return field(dot, o.chain, 0, line);
            case Operand::Kind::Variable: {
                Value* v = find_var(o.name);
                if (!v) fail(line, "undefined variable: " + o.name);
                return field(*v, o.chain, 0, line);
            }
            case Operand::Kind::Sub:
                return field(pipeline(*o.sub, dot), o.chain, 0, line);
            case Operand::Kind::Function: {
                Command c;
                c.args.push_back(std::make_shared<Operand>(o));
                return call(o.name, c, dot, nullptr, line);
            }
        }
        return {};
    }

    static int compare(const Value& a, const Value& b, bool& ok) {
        ok = true;
        if (a.is_number() && b.is_number()) {
            if (a.is_number_float() != b.is_number_float()) {
                ok = false;
                return 0;
            }
            const double x = a.get<double>(), y = b.get<double>();
            return x < y ? -1 : x > y ? 1 : 0;
        }
        if (a.is_string() && b.is_string()) {
            const auto& x = a.get_ref<const std::string&>();
            const auto& y = b.get_ref<const std::string&>();
            return x < y ? -1 : x > y ? 1 : 0;
        }
        if (a.is_boolean() && b.is_boolean()) return a.get<bool>() == b.get<bool>() ? 0 : 1;
        ok = false;
        return 0;
    }

    Value call(const std::string& fn, const Command& c, const Value& dot, const Value* final, int line) {
        const size_t n = c.args.size() - 1 + (final ? 1 : 0);
        auto arg = [&](size_t i) -> Value {
            if (i + 1 < c.args.size()) return operand(*c.args[i + 1], dot, line);
            return *final;
        };
        auto need = [&](size_t k) {
            if (n != k)
                fail(line,
                     "wrong number of args for " + fn + ": want " + std::to_string(k) + " got " + std::to_string(n));
        };
        if (fn == "and" || fn == "or") {
            if (n == 0) fail(line, "wrong number of args for " + fn + ": want at least 1 got 0");
            Value v;
            for (size_t i = 0; i < n; ++i) {
                v = arg(i);
                if (truthy(v) == (fn == "or")) return v;
            }
            return v;
        }
        if (fn == "not") {
            need(1);
            return !truthy(arg(0));
        }
        if (fn == "eq" || fn == "ne") {
            if (n < 2) fail(line, "missing argument for comparison");
            const Value a = arg(0);
            if (fn == "ne") need(2);
            for (size_t i = 1; i < n; ++i) {
                const Value b = arg(i);
                bool equal;
                if (a.is_null() || b.is_null()) {
                    equal = a.is_null() && b.is_null();
                } else {
                    bool ok;
                    equal = compare(a, b, ok) == 0;
                    if (!ok) fail(line, "incompatible types for comparison");
                }
                if (fn == "ne") return !equal;
                if (equal) return true;
            }
            return false;
        }
        if (fn == "lt" || fn == "le" || fn == "gt" || fn == "ge") {
            need(2);
            bool ok;
            const int r = compare(arg(0), arg(1), ok);
            if (!ok) fail(line, "incompatible types for comparison");
            return fn == "lt" ? r < 0 : fn == "le" ? r <= 0 : fn == "gt" ? r > 0 : r >= 0;
        }
        if (fn == "len") {
            need(1);
            const Value v = arg(0);
            if (v.is_string()) return static_cast<int64_t>(v.get_ref<const std::string&>().size());
            if (v.is_array() || v.is_object()) return static_cast<int64_t>(v.size());
            fail(line, "error calling len: len of type " + type_name(v));
        }
        if (fn == "index") {
            if (n < 1) fail(line, "wrong number of args for index");
            Value v = arg(0);
            for (size_t i = 1; i < n; ++i) {
                const Value k = arg(i);
                if (v.is_array() || v.is_string()) {
                    if (!k.is_number_integer())
                        fail(line, "error calling index: cannot index slice with " + type_name(k));
                    const int64_t x = k.get<int64_t>();
                    const size_t len = v.is_array() ? v.size() : v.get_ref<const std::string&>().size();
                    if (x < 0 || static_cast<size_t>(x) >= len)
                        fail(line, "error calling index: index out of range: " + std::to_string(x));
                    v = v.is_array() ? Value(v[static_cast<size_t>(x)])
                                     : Value(static_cast<int64_t>(static_cast<unsigned char>(
                                           v.get_ref<const std::string&>()[static_cast<size_t>(x)])));
                } else if (v.is_object()) {
                    if (!k.is_string()) fail(line, "error calling index: map key must be a string");
                    auto it = v.find(k.get<std::string>());
                    v = it == v.end() ? Value() : Value(*it);
                } else {
                    fail(line, "error calling index: can't index item of type " + type_name(v));
                }
            }
            return v;
        }
        if (fn == "slice") {
            if (n < 1 || n > 4) fail(line, "wrong number of args for slice");
            const Value v = arg(0);
            const size_t len = v.is_array() ? v.size() : v.is_string() ? v.get_ref<const std::string&>().size() : 0;
            if (!v.is_array() && !v.is_string())
                fail(line, "error calling slice: can't slice item of type " + type_name(v));
            std::vector<int64_t> ix;
            for (size_t i = 1; i < n; ++i) {
                const Value k = arg(i);
                if (!k.is_number_integer()) fail(line, "error calling slice: cannot index slice with " + type_name(k));
                ix.push_back(k.get<int64_t>());
            }
            const int64_t lo = ix.size() > 0 ? ix[0] : 0;
            const int64_t hi = ix.size() > 1 ? ix[1] : static_cast<int64_t>(len);
            if (lo < 0 || hi < lo || hi > static_cast<int64_t>(len))
                fail(line, "error calling slice: index out of range");
            if (v.is_string())
                return v.get_ref<const std::string&>().substr(static_cast<size_t>(lo), static_cast<size_t>(hi - lo));
            Value r = Value::array();
            for (int64_t i = lo; i < hi; ++i) r.push_back(v[static_cast<size_t>(i)]);
            return r;
        }
        if (fn == "json") {
            need(1);
            return marshal(arg(0));
        }
        if (fn == "print" || fn == "println") {
            std::string s;
            bool prev_string = true;
            for (size_t i = 0; i < n; ++i) {
                const Value v = arg(i);
                // fmt.Print puts a space between operands when neither is a string; Println always.
                if (i > 0 && (fn == "println" || (!v.is_string() && !prev_string))) s += ' ';
                s += print_scalar_or_list(v);
                prev_string = v.is_string();
            }
            if (fn == "println") s += '\n';
            return s;
        }
        if (fn == "printf") {
            if (n < 1 || !arg(0).is_string()) fail(line, "printf needs a format string");
            const std::string f = arg(0).get<std::string>();
            std::string s;
            size_t next = 1;
            for (size_t i = 0; i < f.size(); ++i) {
                if (f[i] != '%' || i + 1 >= f.size()) {
                    s += f[i];
                    continue;
                }
                const char verb = f[++i];
                if (verb == '%') {
                    s += '%';
                    continue;
                }
                if (next >= n) {
                    s += std::string("%!") + verb + "(MISSING)";
                    continue;
                }
                const Value v = arg(next++);
                switch (verb) {
                    case 's':
                    case 'v':
                    case 'd':
                        s += print_scalar_or_list(v);
                        break;
                    case 'q':
                        s += v.is_string() ? marshal(v) : print_scalar_or_list(v);
                        break;
                    default:
                        fail(line, std::string("printf verb %") + verb + " is not supported");
                }
            }
            return s;
        }
        fail(line, "function \"" + fn + "\" not defined");
    }

    const Fields* fields_;
    std::vector<std::map<std::string, Value>> scopes_;
    uint64_t steps_ = 0;
};

}  // namespace

Result<std::string> execute_nodes(const NodeList& nodes, const Value& data, const Fields* fields) {
    Exec e(data, fields);
    if (auto s = e.run(nodes, data); !s) return s.error();
    return std::move(e.out);
}

std::string marshal(const Value& v) {
    const std::string s = v.dump(-1, ' ', false, Value::error_handler_t::replace);
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '<')
            out += "\\u003c";
        else if (c == '>')
            out += "\\u003e";
        else if (c == '&')
            out += "\\u0026";
        else if (c == '\xE2' && i + 2 < s.size() && s[i + 1] == '\x80' && (s[i + 2] == '\xA8' || s[i + 2] == '\xA9')) {
            out += s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

Result<std::string> Template::execute(const Value& data, const Fields* fields) const {
    return execute_nodes(*root_, data, fields);
}

}  // namespace tf::chat::go
