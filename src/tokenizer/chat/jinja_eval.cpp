#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>

#include "tokenizer/chat/jinja.h"
#include "tokenizer/chat/jinja_ast.h"

namespace tf::jinja {

namespace {

struct RenderError {
    int line;
    std::string message;
};
struct Raised {
    std::string message;
};

enum class Flow { Normal, Break, Continue };

// Limits that keep a hostile template (from a downloaded model file) from hanging or exhausting
// memory: nesting of macro calls, total work, and the size of any produced string or list.
constexpr int kMaxCallDepth = 64;
constexpr int64_t kMaxSteps = 2'000'000;
constexpr size_t kMaxStringBytes = size_t(64) << 20;
constexpr size_t kMaxListItems = 1'000'000;
constexpr int kMaxValueDepth = 64;  // nesting of lists/dicts a template may build

std::string lower_str(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
std::string upper_str(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right) {
    auto strip_this = [&](char c) {
        if (chars == nullptr || chars->is_none() || chars->is_undefined()) return is_py_space(c);
        return chars->str().find(c) != std::string::npos;
    };
    size_t b = 0, e = s.size();
    if (left) {
        while (b < e && strip_this(s[b])) ++b;
    }
    if (right) {
        while (e > b && strip_this(s[e - 1])) --e;
    }
    return s.substr(b, e - b);
}

std::string title_case(const std::string& s) {
    std::string out = s;
    bool start = true;
    for (auto& c : out) {
        if (std::isalpha(static_cast<unsigned char>(c))) {
            c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
            start = false;
        } else {
            start = true;
        }
    }
    return out;
}

class Interpreter {
  public:
    Interpreter(const RenderOptions& opt) : opt_(opt) { scopes_.emplace_back(); }

    void set_global(const std::string& k, Value v) { scopes_[0][k] = std::move(v); }

    Flow exec(const Body& body, std::string& out) {
        for (const auto& st : body) {
            if (++steps_ > kMaxSteps) fail(st->line, "template exceeds the execution budget (runaway loop?)");
            if (out.size() > kMaxStringBytes) fail(st->line, "template output exceeds 64 MiB");
            const Flow f = exec_one(*st, out);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

  private:
    using Scope = std::unordered_map<std::string, Value>;

    [[noreturn]] void fail(int line, const std::string& m) const { throw RenderError{line, m}; }

    Value lookup(const std::string& name) const {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
            auto f = it->find(name);
            if (f != it->end()) return f->second;
        }
        return builtin_global(name);
    }

    Value builtin_global(const std::string& name) const {
        if (name == "range") {
            return Value::function([](CallArgs& a) {
                int64_t start = 0, stop = 0, step = 1;
                if (a.positional.size() == 1) stop = a.positional[0].as_int();
                if (a.positional.size() >= 2) {
                    start = a.positional[0].as_int();
                    stop = a.positional[1].as_int();
                }
                if (a.positional.size() >= 3) step = a.positional[2].as_int();
                Array out;
                if (step == 0) return Value::array();
                for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
                    if (out.size() >= kMaxListItems) throw Raised{"range() longer than 1000000 items"};
                    out.emplace_back(i);
                    if (__builtin_add_overflow(i, step, &i)) break;
                }
                return Value::array(std::move(out));
            });
        }
        if (name == "namespace" || name == "dict") {
            const bool ns = name == "namespace";
            return Value::function([ns](CallArgs& a) {
                Object o;
                o.is_namespace = ns;
                for (const Value& p : a.positional) {
                    if (p.is_object()) {
                        for (const auto& [k, v] : p.as_object().items) o.set(k, v);
                    }
                }
                for (auto& [k, v] : a.keyword) o.set(k, v);
                return Value::object(std::move(o));
            });
        }
        if (name == "raise_exception") {
            return Value::function([](CallArgs& a) -> Value {
                throw Raised{a.positional.empty() ? std::string("raise_exception() called") : a.positional[0].str()};
            });
        }
        if (name == "strftime_now") {
            const std::time_t now = opt_.now ? *opt_.now : std::time(nullptr);
            return Value::function([now](CallArgs& a) {
                std::tm tm{};
                gmtime_r(&now, &tm);
                char buf[256];
                const std::string fmt = a.positional.empty() ? "%Y-%m-%d" : a.positional[0].str();
                const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
                return Value(std::string(buf, n));
            });
        }
        return Value();
    }

    void assign(const std::string& name, Value v) { scopes_.back()[name] = std::move(v); }

    // Values a template builds stay shallow and acyclic, so printing and freeing them cannot
    // recurse without bound.
    Value checked(Value v, int line) const {
        if (v.depth(kMaxValueDepth) > kMaxValueDepth) fail(line, "lists/dicts nested deeper than " + std::to_string(kMaxValueDepth));
        return v;
    }

    // ---- statements ----

    Flow exec_one(const Stmt& st, std::string& out) {
        switch (st.kind) {
            case Stmt::Kind::Text: out += st.text; return Flow::Normal;
            case Stmt::Kind::Output: out += eval(*st.expr).str(); return Flow::Normal;
            case Stmt::Kind::If:
                for (const auto& [cond, body] : st.branches) {
                    if (cond == nullptr || eval(*cond).truthy()) return exec(body, out);
                }
                return Flow::Normal;
            case Stmt::Kind::For: return exec_for(st, out);
            case Stmt::Kind::Set: {
                Value v = eval(*st.expr);
                if (st.target_object != nullptr) {
                    Value obj = eval(*st.target_object);
                    if (!obj.is_object()) fail(st.line, "cannot set an attribute on a " + std::string(obj.type_name()));
                    if (v.contains_storage(obj.storage(), kMaxValueDepth + 1)) fail(st.line, "a namespace cannot contain itself");
                    obj.as_object().set(st.targets[0], std::move(v));
                    checked(obj, st.line);
                } else if (st.targets.size() == 1) {
                    assign(st.targets[0], std::move(v));
                } else {
                    if (!v.is_array() || v.as_array().size() != st.targets.size()) {
                        fail(st.line, "cannot unpack into " + std::to_string(st.targets.size()) + " names");
                    }
                    for (size_t i = 0; i < st.targets.size(); ++i) assign(st.targets[i], v.as_array()[i]);
                }
                return Flow::Normal;
            }
            case Stmt::Kind::SetBlock: {
                std::string captured;
                exec(st.body, captured);
                if (st.target_object != nullptr) {
                    Value obj = eval(*st.target_object);
                    if (!obj.is_object()) fail(st.line, "cannot set an attribute on a " + std::string(obj.type_name()));
                    obj.as_object().set(st.targets[0], Value(captured));
                }
                else assign(st.targets[0], Value(captured));
                return Flow::Normal;
            }
            case Stmt::Kind::Macro: {
                const Stmt* macro = &st;
                assign(st.targets[0], Value::function([this, macro](CallArgs& a) { return call_macro(*macro, a); }));
                return Flow::Normal;
            }
            case Stmt::Kind::Break: return Flow::Break;
            case Stmt::Kind::Continue: return Flow::Continue;
        }
        return Flow::Normal;
    }

    Value call_macro(const Stmt& m, CallArgs& a) {
        if (call_depth_ >= kMaxCallDepth) fail(m.line, "macro calls nested deeper than " + std::to_string(kMaxCallDepth));
        struct Depth {
            int& d;
            explicit Depth(int& x) : d(++x) {}
            ~Depth() { --d; }
        } depth(call_depth_);
        Scope locals;
        const size_t n_params = m.targets.size() - 1;
        for (size_t i = 0; i < n_params; ++i) {
            const std::string& pname = m.targets[i + 1];
            const Value* given = a.get(i, pname);
            if (given != nullptr) locals[pname] = *given;
            else if (m.defaults[i] != nullptr) locals[pname] = eval(*m.defaults[i]);
            else locals[pname] = Value();
        }
        // A macro sees the template's globals and its own parameters, not the caller's locals.
        std::vector<Scope> saved;
        saved.swap(scopes_);
        scopes_.push_back(saved.front());
        scopes_.push_back(std::move(locals));
        std::string out;
        try {
            exec(m.body, out);
        } catch (...) {
            saved.front() = std::move(scopes_.front());
            scopes_.swap(saved);
            throw;
        }
        saved.front() = std::move(scopes_.front());
        scopes_.swap(saved);
        return Value(out);
    }

    static Array iterable_items(const Value& v) {
        if (v.is_array()) return v.as_array();
        if (v.is_object()) {
            Array keys;
            for (const auto& kv : v.as_object().items) keys.emplace_back(kv.first);
            return keys;
        }
        if (v.is_string()) {
            Array chars;
            const std::string& s = v.as_string();
            for (size_t i = 0; i < s.size();) {
                size_t len = 1;
                const auto c = static_cast<unsigned char>(s[i]);
                if (c >= 0xF0) len = 4;
                else if (c >= 0xE0) len = 3;
                else if (c >= 0xC0) len = 2;
                chars.emplace_back(s.substr(i, len));
                i += len;
            }
            return chars;
        }
        return {};
    }

    Flow exec_for(const Stmt& st, std::string& out) {
        const Value seq = eval(*st.expr);
        if (!seq.is_array() && !seq.is_object() && !seq.is_string() && !seq.is_undefined() && !seq.is_none()) {
            fail(st.line, std::string("cannot iterate over a ") + seq.type_name());
        }
        Array items = iterable_items(seq);
        scopes_.emplace_back();
        auto bind = [&](const Value& item) {
            if (st.targets.size() == 1) {
                assign(st.targets[0], item);
            } else {
                const Array parts = item.is_array() ? item.as_array() : Array{};
                for (size_t k = 0; k < st.targets.size(); ++k) assign(st.targets[k], k < parts.size() ? parts[k] : Value());
            }
        };
        if (st.filter != nullptr) {
            Array kept;
            for (const Value& item : items) {
                if (++steps_ > kMaxSteps) fail(st.line, "template exceeds the execution budget (runaway loop?)");
                bind(item);
                if (eval(*st.filter).truthy()) kept.push_back(item);
            }
            items.swap(kept);
        }
        const int64_t n = static_cast<int64_t>(items.size());
        for (int64_t i = 0; i < n; ++i) {
            if (++steps_ > kMaxSteps) fail(st.line, "template exceeds the execution budget (runaway loop?)");
            bind(items[static_cast<size_t>(i)]);
            Object loop;
            loop.set("index", Value(i + 1));
            loop.set("index0", Value(i));
            loop.set("revindex", Value(n - i));
            loop.set("revindex0", Value(n - i - 1));
            loop.set("first", Value(i == 0));
            loop.set("last", Value(i == n - 1));
            loop.set("length", Value(n));
            loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value());
            loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value());
            loop.set("cycle", Value::function([i](CallArgs& a) {
                         return a.positional.empty() ? Value() : a.positional[static_cast<size_t>(i) % a.positional.size()];
                     }));
            assign("loop", Value::object(std::move(loop)));
            const Flow f = exec(st.body, out);
            if (f == Flow::Break) break;
        }
        if (n == 0) exec(st.else_body, out);
        scopes_.pop_back();
        return Flow::Normal;
    }

    // ---- expressions ----

    CallArgs eval_args(const Expr& e, size_t skip = 0) {
        CallArgs a;
        for (size_t i = skip; i < e.items.size(); ++i) a.positional.push_back(eval(*e.items[i]));
        for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v));
        return a;
    }

    Value eval(const Expr& e) {
        switch (e.kind) {
            case Expr::Kind::Literal: return e.literal;
            case Expr::Kind::Name: return lookup(e.name);
            case Expr::Kind::List:
            case Expr::Kind::Tuple: {
                Array a;
                for (const auto& x : e.items) a.push_back(eval(*x));
                return checked(Value::array(std::move(a)), e.line);
            }
            case Expr::Kind::Dict: {
                Object o;
                for (size_t i = 0; i + 1 < e.items.size(); i += 2) o.set(eval(*e.items[i]).str(), eval(*e.items[i + 1]));
                return checked(Value::object(std::move(o)), e.line);
            }
            case Expr::Kind::Attr: return attribute(eval(*e.a), e.name, e.line);
            case Expr::Kind::Index: return index(eval(*e.a), eval(*e.b), e.line);
            case Expr::Kind::Slice: return slice(e);
            case Expr::Kind::Call: {
                const Value callee = eval(*e.a);
                if (!callee.is_function()) {
                    std::string what = e.a->kind == Expr::Kind::Name ? "'" + e.a->name + "'"
                                       : e.a->kind == Expr::Kind::Attr ? "'" + e.a->name + "'"
                                                                       : "expression";
                    fail(e.line, what + " is not callable (" + callee.type_name() + ")");
                }
                CallArgs a = eval_args(e);
                return checked(callee.as_function()(a), e.line);
            }
            case Expr::Kind::Filter: return filter(e);
            case Expr::Kind::Test: {
                const bool r = test(e);
                return Value(e.negated ? !r : r);
            }
            case Expr::Kind::Unary: {
                const Value v = eval(*e.a);
                if (!v.is_number()) fail(e.line, "unary " + e.name + " on a " + v.type_name());
                if (e.name == "+") return v;
                return v.is_int() && v.as_int() != INT64_MIN ? Value(-v.as_int()) : Value(-v.as_double());
            }
            case Expr::Kind::Not: return Value(!eval(*e.a).truthy());
            case Expr::Kind::And: {
                Value l = eval(*e.a);
                return l.truthy() ? eval(*e.b) : l;
            }
            case Expr::Kind::Or: {
                Value l = eval(*e.a);
                return l.truthy() ? l : eval(*e.b);
            }
            case Expr::Kind::Ternary: return eval(*e.b).truthy() ? eval(*e.a) : (e.c ? eval(*e.c) : Value());
            case Expr::Kind::Binary: return binary(e);
        }
        return Value();
    }

    Value attribute(const Value& obj, const std::string& name, int line) {
        if (obj.is_object()) {
            if (const Value* v = obj.as_object().find(name)) return *v;
            if (obj.as_object().is_namespace) return Value();
            Value m = method(obj, name, line);
            return m;
        }
        if (obj.is_array() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
            return index(obj, Value(static_cast<int64_t>(std::stoll(name))), line);
        }
        if (obj.is_string() || obj.is_array()) return method(obj, name, line);
        return Value();  // attributes of undefined/none are undefined (lenient, as templates test `is defined`)
    }

    Value index(const Value& obj, const Value& key, int line) {
        if (obj.is_object()) {
            const Value* v = obj.as_object().find(key.str());
            return v != nullptr ? *v : Value();
        }
        if (obj.is_array() || obj.is_string()) {
            if (!key.is_int()) {
                if (key.is_string()) return attribute(obj, key.as_string(), line);
                fail(line, std::string("index of a ") + obj.type_name() + " must be an integer, not " + key.type_name());
            }
            const Array items = obj.is_array() ? obj.as_array() : iterable_items(obj);
            int64_t i = key.as_int();
            if (i < 0) i += static_cast<int64_t>(items.size());
            if (i < 0 || i >= static_cast<int64_t>(items.size())) return Value();
            return items[static_cast<size_t>(i)];
        }
        return Value();
    }

    Value slice(const Expr& e) {
        const Value obj = eval(*e.a);
        const Array items = iterable_items(obj);
        const int64_t n = static_cast<int64_t>(items.size());
        const int64_t step = e.items[2] ? eval(*e.items[2]).as_int() : 1;
        if (step == 0) fail(e.line, "slice step cannot be zero");
        auto clamp = [&](const ExprPtr& x, int64_t dflt) {
            if (!x) return dflt;
            int64_t v = eval(*x).as_int();
            if (v < 0) v += n;
            if (step > 0) return std::clamp<int64_t>(v, 0, n);
            return std::clamp<int64_t>(v, -1, n - 1);
        };
        const int64_t start = clamp(e.items[0], step > 0 ? 0 : n - 1);
        const int64_t stop = clamp(e.items[1], step > 0 ? n : -1);
        Array out;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(items[static_cast<size_t>(i)]);
        if (obj.is_string()) {
            std::string s;
            for (const Value& c : out) s += c.as_string();
            return Value(s);
        }
        return Value::array(std::move(out));
    }

    Value binary(const Expr& e) {
        const std::string& op = e.name;
        const Value l = eval(*e.a);
        const Value r = eval(*e.b);
        if (op == "~" || (op == "+" && l.is_string() && r.is_string())) {
            std::string ls = l.str(), rs = r.str();
            if (ls.size() + rs.size() > kMaxStringBytes) fail(e.line, "string exceeds 64 MiB");
            return Value(ls + rs);
        }
        if (op == "==") return Value(l == r);
        if (op == "!=") return Value(!(l == r));
        if (op == "in" || op == "not in") {
            bool found = false;
            if (r.is_string()) found = r.as_string().find(l.str()) != std::string::npos;
            else if (r.is_array()) found = std::find(r.as_array().begin(), r.as_array().end(), l) != r.as_array().end();
            else if (r.is_object()) found = r.as_object().find(l.str()) != nullptr;
            return Value(op == "in" ? found : !found);
        }
        if (op == "<" || op == ">" || op == "<=" || op == ">=") {
            bool ok;
            const int c = l.compare(r, &ok);
            if (!ok) fail(e.line, "cannot compare " + std::string(l.type_name()) + " and " + r.type_name());
            return Value(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
        }
        if (op == "+") {
            if (l.is_array() && r.is_array()) {
                if (l.as_array().size() + r.as_array().size() > kMaxListItems) fail(e.line, "list longer than 1000000 items");
                Array a = l.as_array();
                a.insert(a.end(), r.as_array().begin(), r.as_array().end());
                return Value::array(std::move(a));
            }
        }
        if (op == "*" && l.is_string() && r.is_int()) {
            if (r.as_int() > 0 && (r.as_int() > static_cast<int64_t>(kMaxStringBytes) ||
                                   l.as_string().size() * static_cast<size_t>(r.as_int()) > kMaxStringBytes)) {
                fail(e.line, "string repetition exceeds 64 MiB");
            }
            std::string s;
            for (int64_t i = 0; i < r.as_int(); ++i) s += l.as_string();
            return Value(s);
        }
        if (op == "%" && l.is_string()) return Value(percent_format(l.as_string(), r));
        const bool lnum = l.is_number() || l.is_bool(), rnum = r.is_number() || r.is_bool();
        if (!lnum || !rnum) fail(e.line, "unsupported operands for " + op + ": " + l.type_name() + " and " + r.type_name());
        const bool ints = !l.is_float() && !r.is_float();
        int64_t res = 0;
        // Integer results that overflow 64 bits become floats (Python would grow the integer).
        if (op == "+") return ints && !__builtin_add_overflow(l.as_int(), r.as_int(), &res) ? Value(res) : Value(l.as_double() + r.as_double());
        if (op == "-") return ints && !__builtin_sub_overflow(l.as_int(), r.as_int(), &res) ? Value(res) : Value(l.as_double() - r.as_double());
        if (op == "*") return ints && !__builtin_mul_overflow(l.as_int(), r.as_int(), &res) ? Value(res) : Value(l.as_double() * r.as_double());
        if (op == "**") {
            const double p = std::pow(l.as_double(), r.as_double());
            if (ints && r.as_int() >= 0 && std::fabs(p) < 9.0e18) return Value(static_cast<int64_t>(p));
            return Value(p);
        }
        if (r.as_double() == 0) fail(e.line, "division by zero");
        if (op == "/") return Value(l.as_double() / r.as_double());
        if (ints && l.as_int() == INT64_MIN && r.as_int() == -1) return Value(-l.as_double());
        if (op == "//") {
            if (ints) {
                const int64_t a = l.as_int(), b = r.as_int();
                int64_t q = a / b;
                if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
                return Value(q);
            }
            return Value(std::floor(l.as_double() / r.as_double()));
        }
        if (op == "%") {
            if (ints) {
                const int64_t a = l.as_int(), b = r.as_int();
                int64_t m = a % b;
                if (m != 0 && ((m < 0) != (b < 0))) m += b;
                return Value(m);
            }
            const double m = std::fmod(l.as_double(), r.as_double());
            return Value(m != 0 && ((m < 0) != (r.as_double() < 0)) ? m + r.as_double() : m);
        }
        fail(e.line, "unknown operator " + op);
    }

    static std::string percent_format(const std::string& fmt, const Value& args) {
        const Array list = args.is_array() ? args.as_array() : Array{args};
        std::string out;
        size_t next = 0;
        for (size_t i = 0; i < fmt.size(); ++i) {
            if (fmt[i] == '%' && i + 1 < fmt.size()) {
                const char c = fmt[++i];
                if (c == '%') {
                    out.push_back('%');
                    continue;
                }
                const Value v = next < list.size() ? list[next++] : Value();
                if (c == 'd' || c == 'i') out += std::to_string(v.as_int());
                else if (c == 'r') out += v.repr();
                else out += v.str();
            } else {
                out.push_back(fmt[i]);
            }
        }
        return out;
    }

    // ---- methods of strings, dicts and lists ----

    Value method(const Value& self, const std::string& name, int line) {
        auto fn = [](auto f) { return Value::function(f); };
        if (self.is_string()) {
            const std::string s = self.as_string();
            if (name == "strip" || name == "lstrip" || name == "rstrip") {
                return fn([s, name](CallArgs& a) {
                    return Value(strip_chars(s, a.get(0, "chars"), name != "rstrip", name != "lstrip"));
                });
            }
            if (name == "upper") return fn([s](CallArgs&) { return Value(upper_str(s)); });
            if (name == "lower") return fn([s](CallArgs&) { return Value(lower_str(s)); });
            if (name == "title") return fn([s](CallArgs&) { return Value(title_case(s)); });
            if (name == "capitalize") {
                return fn([s](CallArgs&) {
                    std::string o = lower_str(s);
                    if (!o.empty()) o[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(o[0])));
                    return Value(o);
                });
            }
            if (name == "startswith" || name == "endswith") {
                const bool start = name == "startswith";
                return fn([s, start](CallArgs& a) {
                    const Value* p = a.get(0, "prefix");
                    if (p == nullptr) return Value(false);
                    const Array options = p->is_array() ? p->as_array() : Array{*p};
                    for (const Value& o : options) {
                        const std::string& x = o.str();
                        if (x.size() <= s.size() && (start ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0)) {
                            return Value(true);
                        }
                    }
                    return Value(false);
                });
            }
            if (name == "split" || name == "rsplit") {
                return fn([s](CallArgs& a) {
                    const Value* sep = a.get(0, "sep");
                    const Value* maxv = a.get(1, "maxsplit");
                    int64_t maxsplit = maxv ? maxv->as_int() : -1;
                    Array out;
                    if (sep == nullptr || sep->is_none()) {
                        size_t i = 0;
                        while (i < s.size()) {
                            while (i < s.size() && is_py_space(s[i])) ++i;
                            if (i >= s.size()) break;
                            size_t j = i;
                            if (maxsplit == 0) j = s.size();
                            else while (j < s.size() && !is_py_space(s[j])) ++j;
                            out.emplace_back(s.substr(i, j - i));
                            if (maxsplit > 0) --maxsplit;
                            i = j;
                        }
                        return Value::array(std::move(out));
                    }
                    const std::string d = sep->str();
                    if (d.empty()) return Value::array({Value(s)});
                    size_t pos = 0;
                    while (maxsplit != 0) {
                        const size_t hit = s.find(d, pos);
                        if (hit == std::string::npos) break;
                        out.emplace_back(s.substr(pos, hit - pos));
                        pos = hit + d.size();
                        if (maxsplit > 0) --maxsplit;
                    }
                    out.emplace_back(s.substr(pos));
                    return Value::array(std::move(out));
                });
            }
            if (name == "replace") {
                return fn([s](CallArgs& a) {
                    const Value* o = a.get(0, "old");
                    const Value* n = a.get(1, "new");
                    const Value* c = a.get(2, "count");
                    return Value(replace_all(s, o ? o->str() : "", n ? n->str() : "", c ? c->as_int() : -1));
                });
            }
            if (name == "find") {
                return fn([s](CallArgs& a) {
                    const Value* x = a.get(0, "sub");
                    const size_t p = s.find(x ? x->str() : "");
                    return Value(p == std::string::npos ? int64_t(-1) : static_cast<int64_t>(p));
                });
            }
            if (name == "count") {
                return fn([s](CallArgs& a) {
                    const Value* x = a.get(0, "sub");
                    const std::string sub = x ? x->str() : "";
                    int64_t n = 0;
                    if (!sub.empty()) {
                        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
                    }
                    return Value(n);
                });
            }
            if (name == "join") {
                return fn([s](CallArgs& a) {
                    std::string out;
                    const Value* items = a.get(0, "iterable");
                    bool first = true;
                    for (const Value& v : items ? iterable_items(*items) : Array{}) {
                        if (!first) out += s;
                        first = false;
                        out += v.str();
                    }
                    return Value(out);
                });
            }
            if (name == "format") {
                return fn([s](CallArgs& a) {
                    std::string out;
                    size_t next = 0;
                    for (size_t i = 0; i < s.size(); ++i) {
                        if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '}') {
                            out += next < a.positional.size() ? a.positional[next++].str() : "";
                            ++i;
                        } else {
                            out.push_back(s[i]);
                        }
                    }
                    return Value(out);
                });
            }
            if (name == "isdigit" || name == "isalpha" || name == "isspace") {
                return fn([s, name](CallArgs&) {
                    if (s.empty()) return Value(false);
                    for (unsigned char c : s) {
                        const bool ok = name == "isdigit" ? std::isdigit(c) : name == "isalpha" ? std::isalpha(c) : std::isspace(c);
                        if (!ok) return Value(false);
                    }
                    return Value(true);
                });
            }
        }
        if (self.is_object()) {
            const Value obj = self;
            if (name == "items") {
                return fn([obj](CallArgs&) {
                    Array out;
                    for (const auto& [k, v] : obj.as_object().items) out.push_back(Value::array({Value(k), v}));
                    return Value::array(std::move(out));
                });
            }
            if (name == "keys" || name == "values") {
                const bool keys = name == "keys";
                return fn([obj, keys](CallArgs&) {
                    Array out;
                    for (const auto& [k, v] : obj.as_object().items) out.push_back(keys ? Value(k) : v);
                    return Value::array(std::move(out));
                });
            }
            if (name == "get") {
                return fn([obj](CallArgs& a) {
                    const Value* k = a.get(0, "key");
                    const Value* d = a.get(1, "default");
                    const Value* v = k ? obj.as_object().find(k->str()) : nullptr;
                    return v ? *v : d ? *d : Value::none();
                });
            }
        }
        if (self.is_array()) {
            const Value arr = self;
            if (name == "append") {
                return fn([arr](CallArgs& a) {
                    if (arr.as_array().size() >= kMaxListItems) throw Raised{"list longer than 1000000 items"};
                    if (a.positional.empty()) return Value::none();
                    if (a.positional[0].contains_storage(arr.storage(), kMaxValueDepth + 1)) throw Raised{"a list cannot contain itself"};
                    if (a.positional[0].depth(kMaxValueDepth) >= kMaxValueDepth) throw Raised{"lists nested too deeply"};
                    arr.as_array().push_back(a.positional[0]);
                    return Value::none();
                });
            }
            if (name == "pop") {
                return fn([arr](CallArgs& a) {
                    Array& v = arr.as_array();
                    if (v.empty()) return Value();
                    int64_t i = a.positional.empty() ? static_cast<int64_t>(v.size()) - 1 : a.positional[0].as_int();
                    if (i < 0) i += static_cast<int64_t>(v.size());
                    if (i < 0 || i >= static_cast<int64_t>(v.size())) return Value();
                    Value out = v[static_cast<size_t>(i)];
                    v.erase(v.begin() + i);
                    return out;
                });
            }
            if (name == "index") {
                return fn([arr](CallArgs& a) {
                    const Array& v = arr.as_array();
                    for (size_t i = 0; i < v.size(); ++i) {
                        if (!a.positional.empty() && v[i] == a.positional[0]) return Value(static_cast<int64_t>(i));
                    }
                    return Value(int64_t(-1));
                });
            }
        }
        (void)line;
        return Value();
    }

    static std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
        if (from.empty()) return s;
        std::string out;
        size_t pos = 0;
        while (count != 0) {
            const size_t hit = s.find(from, pos);
            if (hit == std::string::npos) break;
            out += s.substr(pos, hit - pos) + to;
            pos = hit + from.size();
            if (count > 0) --count;
        }
        return out + s.substr(pos);
    }

    // ---- filters ----

    Value apply_filter(const std::string& name, const Value& v, CallArgs& a, int line) {
        if (name == "tojson") {
            const Value* indent = a.get(0, "indent");
            const Value* seps = a.get(99, "separators");
            const Value* sort = a.get(99, "sort_keys");
            std::string item_sep = ", ", key_sep = ": ";
            if (seps != nullptr && seps->is_array() && seps->as_array().size() == 2) {
                item_sep = seps->as_array()[0].str();
                key_sep = seps->as_array()[1].str();
            }
            return Value(v.to_json(indent && indent->is_int() ? static_cast<int>(indent->as_int()) : -1, item_sep, key_sep,
                                   sort && sort->truthy()));
        }
        if (name == "length" || name == "count") return Value(static_cast<int64_t>(v.length()));
        if (name == "string") return Value(v.str());
        if (name == "trim") return Value(strip_chars(v.str(), a.get(0, "chars"), true, true));
        if (name == "upper") return Value(upper_str(v.str()));
        if (name == "lower") return Value(lower_str(v.str()));
        if (name == "title") return Value(title_case(v.str()));
        if (name == "capitalize") {
            std::string o = lower_str(v.str());
            if (!o.empty()) o[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(o[0])));
            return Value(o);
        }
        if (name == "safe" || name == "e" || name == "escape") {
            if (name == "safe") return v;
            std::string o;
            for (char c : v.str()) {
                if (c == '<') o += "&lt;";
                else if (c == '>') o += "&gt;";
                else if (c == '&') o += "&amp;";
                else if (c == '"') o += "&#34;";
                else if (c == '\'') o += "&#39;";
                else o.push_back(c);
            }
            return Value(o);
        }
        if (name == "default" || name == "d") {
            const Value* dflt = a.get(0, "default_value");
            const Value* boolean = a.get(1, "boolean");
            const bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
            return use_default ? (dflt ? *dflt : Value("")) : v;
        }
        if (name == "int") {
            if (v.is_string()) {
                try {
                    return Value(static_cast<int64_t>(std::stoll(v.as_string())));
                } catch (...) {
                    return Value(int64_t(0));
                }
            }
            return Value(v.as_int());
        }
        if (name == "float") {
            if (v.is_string()) {
                try {
                    return Value(std::stod(v.as_string()));
                } catch (...) {
                    return Value(0.0);
                }
            }
            return Value(v.as_double());
        }
        if (name == "abs") return v.is_int() && v.as_int() != INT64_MIN ? Value(static_cast<int64_t>(std::llabs(v.as_int()))) : Value(std::fabs(v.as_double()));
        if (name == "round") {
            const Value* prec = a.get(0, "precision");
            const double m = std::pow(10.0, prec ? std::clamp(prec->as_double(), -30.0, 30.0) : 0.0);
            return Value(std::round(v.as_double() * m) / m);
        }
        if (name == "list") return Value::array(iterable_items(v));
        if (name == "items") {
            if (!v.is_object()) {
                if (v.is_undefined() || v.is_none()) return Value::array();
                fail(line, std::string("items of a ") + v.type_name());
            }
            return method(v, "items", line).as_function()(a);
        }
        if (name == "first" || name == "last") {
            const Array items = iterable_items(v);
            if (items.empty()) return Value();
            return name == "first" ? items.front() : items.back();
        }
        if (name == "reverse") {
            if (v.is_string()) return Value(std::string(v.as_string().rbegin(), v.as_string().rend()));
            Array items = iterable_items(v);
            std::reverse(items.begin(), items.end());
            return Value::array(std::move(items));
        }
        if (name == "join") {
            const Value* sep = a.get(0, "d");
            const Value* attr = a.get(1, "attribute");
            std::string out;
            bool first = true;
            for (const Value& x : iterable_items(v)) {
                if (!first) out += sep ? sep->str() : "";
                first = false;
                out += (attr ? attribute(x, attr->str(), line) : x).str();
            }
            return Value(out);
        }
        if (name == "replace") {
            const Value* o = a.get(0, "old");
            const Value* n = a.get(1, "new");
            const Value* c = a.get(2, "count");
            return Value(replace_all(v.str(), o ? o->str() : "", n ? n->str() : "", c ? c->as_int() : -1));
        }
        if (name == "indent") {
            const Value* width = a.get(0, "width");
            const Value* first = a.get(1, "first");
            const Value* blank = a.get(2, "blank");
            const int64_t w = width && !width->is_string() ? std::clamp<int64_t>(width->as_int(), 0, 256) : 4;
            const std::string pad = width && width->is_string() ? width->as_string() : std::string(static_cast<size_t>(w), ' ');
            const std::string s = v.str();
            std::string out;
            size_t start = 0;
            bool is_first = true;
            while (start <= s.size()) {
                size_t nl = s.find('\n', start);
                const std::string line_text = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
                const bool indent_this = (!is_first || (first && first->truthy())) && (!line_text.empty() || (blank && blank->truthy()));
                if (indent_this) out += pad;
                out += line_text;
                if (nl == std::string::npos) break;
                out += '\n';
                start = nl + 1;
                is_first = false;
            }
            return Value(out);
        }
        if (name == "dictsort" || name == "sort") {
            const bool dict = name == "dictsort";
            if (dict && !v.is_object()) fail(line, std::string("dictsort of a ") + v.type_name());
            Array items = dict ? method(v, "items", line).as_function()(a).as_array() : iterable_items(v);
            const Value* reverse = a.get(dict ? 2 : 0, "reverse");
            const Value* case_sensitive = a.get(dict ? 0 : 1, "case_sensitive");
            const Value* attr = dict ? nullptr : a.get(2, "attribute");
            const bool cs = case_sensitive && case_sensitive->truthy();
            auto key = [&](const Value& x) {
                Value k = dict ? x.as_array()[0] : attr ? attribute(x, attr->str(), line) : x;
                return (!cs && k.is_string()) ? Value(lower_str(k.as_string())) : k;
            };
            std::stable_sort(items.begin(), items.end(), [&](const Value& p, const Value& q) {
                bool ok;
                return key(p).compare(key(q), &ok) < 0;
            });
            if (reverse && reverse->truthy()) std::reverse(items.begin(), items.end());
            return Value::array(std::move(items));
        }
        if (name == "unique") {
            Array out;
            for (const Value& x : iterable_items(v)) {
                if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
            }
            return Value::array(std::move(out));
        }
        if (name == "min" || name == "max" || name == "sum") {
            const Array items = iterable_items(v);
            const Value* attr = a.get(name == "sum" ? 0 : 1, "attribute");
            if (name == "sum") {
                Value total = a.get(1, "start") ? *a.get(1, "start") : Value(int64_t(0));
                for (const Value& x : items) {
                    const Value y = attr ? attribute(x, attr->str(), line) : x;
                    total = total.is_int() && y.is_int() ? Value(total.as_int() + y.as_int()) : Value(total.as_double() + y.as_double());
                }
                return total;
            }
            if (items.empty()) return Value();
            Value best = items[0];
            for (const Value& x : items) {
                bool ok;
                const int c = (attr ? attribute(x, attr->str(), line) : x).compare(attr ? attribute(best, attr->str(), line) : best, &ok);
                if (ok && ((name == "min" && c < 0) || (name == "max" && c > 0))) best = x;
            }
            return best;
        }
        if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
            const bool by_attr = name == "selectattr" || name == "rejectattr";
            const bool keep_match = name == "selectattr" || name == "select";
            Array out;
            for (const Value& x : iterable_items(v)) {
                size_t argi = 0;
                Value subject = x;
                if (by_attr) {
                    if (a.positional.empty()) fail(line, name + " needs an attribute name");
                    subject = attribute(x, a.positional[0].str(), line);
                    argi = 1;
                }
                bool r;
                if (a.positional.size() > argi) {
                    CallArgs targs;
                    targs.positional.assign(a.positional.begin() + static_cast<long>(argi) + 1, a.positional.end());
                    r = apply_test(a.positional[argi].str(), subject, targs, line);
                } else {
                    r = subject.truthy();
                }
                if (r == keep_match) out.push_back(x);
            }
            return Value::array(std::move(out));
        }
        if (name == "map") {
            Array out;
            const Value* attr = a.get(99, "attribute");
            const Value* dflt = a.get(99, "default");
            for (const Value& x : iterable_items(v)) {
                if (attr != nullptr) {
                    Value y = attribute(x, attr->str(), line);
                    out.push_back(y.is_undefined() && dflt ? *dflt : y);
                } else if (!a.positional.empty()) {
                    CallArgs fargs;
                    fargs.positional.assign(a.positional.begin() + 1, a.positional.end());
                    out.push_back(apply_filter(a.positional[0].str(), x, fargs, line));
                } else {
                    out.push_back(x);
                }
            }
            return Value::array(std::move(out));
        }
        if (name == "wordcount") {
            CallArgs none;
            return Value(static_cast<int64_t>(method(Value(v.str()), "split", line).as_function()(none).as_array().size()));
        }
        if (name == "format") {
            Array args = a.positional;
            return Value(percent_format(v.str(), Value::array(args)));
        }
        if (name == "batch") {
            const int64_t size = std::max<int64_t>(1, a.positional.empty() ? 1 : a.positional[0].as_int());
            Array out, cur;
            for (const Value& x : iterable_items(v)) {
                cur.push_back(x);
                if (static_cast<int64_t>(cur.size()) == size) {
                    out.push_back(Value::array(cur));
                    cur.clear();
                }
            }
            if (!cur.empty()) out.push_back(Value::array(cur));
            return Value::array(std::move(out));
        }
        fail(line, "unknown filter '" + name + "'");
    }

    Value filter(const Expr& e) {
        const Value v = eval(*e.a);
        CallArgs a = eval_args(e);
        return checked(apply_filter(e.name, v, a, e.line), e.line);
    }

    // ---- tests ----

    bool apply_test(const std::string& name, const Value& v, CallArgs& a, int line) {
        const Value* arg = a.positional.empty() ? nullptr : &a.positional[0];
        if (name == "defined") return !v.is_undefined();
        if (name == "undefined") return v.is_undefined();
        if (name == "none") return v.is_none();
        if (name == "string") return v.is_string();
        if (name == "number") return v.is_number();
        if (name == "integer") return v.is_int();
        if (name == "float") return v.is_float();
        if (name == "boolean") return v.is_bool();
        if (name == "true") return v.is_bool() && v.as_bool();
        if (name == "false") return v.is_bool() && !v.as_bool();
        if (name == "mapping") return v.is_object();
        if (name == "iterable") return v.is_array() || v.is_object() || v.is_string();
        if (name == "sequence") return v.is_array() || v.is_string() || v.is_object();
        if (name == "callable") return v.is_function();
        if (name == "lower") return v.is_string() && lower_str(v.as_string()) == v.as_string();
        if (name == "upper") return v.is_string() && upper_str(v.as_string()) == v.as_string();
        if (name == "even" || name == "odd") return v.is_int() && (v.as_int() % 2 == 0) == (name == "even");
        if (name == "divisibleby") {
            if (!arg || arg->as_int() == 0) return false;
            return arg->as_int() == -1 || v.as_int() % arg->as_int() == 0;
        }
        if (name == "eq" || name == "equalto" || name == "==" || name == "sameas") return arg && v == *arg;
        if (name == "ne" || name == "!=") return arg && !(v == *arg);
        if (name == "in") {
            if (!arg) return false;
            if (arg->is_string()) return arg->as_string().find(v.str()) != std::string::npos;
            if (arg->is_array()) return std::find(arg->as_array().begin(), arg->as_array().end(), v) != arg->as_array().end();
            if (arg->is_object()) return arg->as_object().find(v.str()) != nullptr;
            return false;
        }
        if (name == "lt" || name == "gt" || name == "le" || name == "ge" || name == "lessthan" || name == "greaterthan") {
            bool ok;
            const int c = arg ? v.compare(*arg, &ok) : 0;
            if (!arg || !ok) return false;
            if (name == "lt" || name == "lessthan") return c < 0;
            if (name == "gt" || name == "greaterthan") return c > 0;
            return name == "le" ? c <= 0 : c >= 0;
        }
        fail(line, "unknown test '" + name + "'");
    }

    bool test(const Expr& e) {
        const Value v = eval(*e.a);
        CallArgs a = eval_args(e);
        return apply_test(e.name, v, a, e.line);
    }

    const RenderOptions& opt_;
    std::vector<Scope> scopes_;
    int call_depth_ = 0;
    int64_t steps_ = 0;
};

}  // namespace

Result<Template> Template::parse(const std::string& source) {
    try {
        Template t;
        t.body_ = std::make_shared<const Body>(parse_template(source));
        return t;
    } catch (const ParseError& e) {
        return Error{"template line " + std::to_string(e.line) + ": " + e.message};
    } catch (const std::exception& e) {  // e.g. an integer literal too large for 64 bits
        return Error{std::string("template: ") + e.what()};
    }
}

Result<std::string> Template::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
    Interpreter in(options);
    if (context.is_object()) {
        for (const auto& [k, v] : context.items()) in.set_global(k, Value::from_json(v));
    }
    std::string out;
    try {
        in.exec(*body_, out);
    } catch (const Raised& r) {
        return Error{"template raised TemplateError: " + r.message};
    } catch (const RenderError& e) {
        return Error{"template line " + std::to_string(e.line) + ": " + e.message};
    } catch (const std::exception& e) {
        return Error{std::string("template: ") + e.what()};
    }
    return out;
}

}  // namespace tf::jinja
