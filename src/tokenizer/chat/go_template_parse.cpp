// Go text/template: lexing and parsing into the tree of go_template_ast.h, and the tree's own
// walks (the identifiers it mentions, Ollama's cut after a field).
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "tokenizer/chat/go_template_ast.h"

namespace tf::chat::go {

namespace {

const std::set<std::string> kFunctions = {"and",     "or",   "not",  "eq",    "ne",       "lt",    "le",
                                          "gt",      "ge",   "len",  "index", "slice",    "print", "printf",
                                          "println", "json", "html", "js",    "urlquery", "call"};

// ---------------------------------------------------------------- lexing an action

struct Token {
    enum class Kind {
        Field,
        Dot,
        Variable,
        Ident,
        String,
        Number,
        Char,
        LParen,
        RParen,
        Pipe,
        Declare,
        Assign,
        Comma,
        End
    } kind = Kind::End;
    std::string text;
    bool attached = false;  // no space before it: ".A.B", "$x.A", "(…).A"
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

class Lexer {
  public:
    Lexer(const std::string& s, size_t pos, int line) : s_(s), pos_(pos), line_(line) {}

    // The tokens of one action up to its "}}" (or " -}}"); pos() is then just past it.
    Result<std::vector<Token>> action(bool& trim_right) {
        std::vector<Token> out;
        trim_right = false;
        for (;;) {
            const size_t before = pos_;
            while (pos_ < s_.size() && is_space(s_[pos_])) {
                if (s_[pos_] == '\n') ++line_;
                ++pos_;
            }
            const bool spaced = pos_ != before;
            if (pos_ >= s_.size()) return err("unclosed action");
            if (spaced && s_.compare(pos_, 3, "-}}") == 0) {
                trim_right = true;
                pos_ += 3;
                return out;
            }
            if (s_.compare(pos_, 2, "}}") == 0) {
                pos_ += 2;
                return out;
            }
            Token t;
            t.attached = !spaced;
            const char c = s_[pos_];
            if (c == '.') {
                size_t e = pos_ + 1;
                while (e < s_.size() && is_ident_char(s_[e])) ++e;
                if (e == pos_ + 1) {
                    if (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) {
                        if (auto n = number(t); !n) return n.error();
                    } else {
                        t.kind = Token::Kind::Dot;
                        ++pos_;
                    }
                } else {
                    t.kind = Token::Kind::Field;
                    t.text = s_.substr(pos_ + 1, e - pos_ - 1);
                    pos_ = e;
                }
            } else if (c == '$') {
                size_t e = pos_ + 1;
                while (e < s_.size() && is_ident_char(s_[e])) ++e;
                t.kind = Token::Kind::Variable;
                t.text = s_.substr(pos_, e - pos_);
                pos_ = e;
            } else if (c == '"' || c == '`') {
                if (auto r = string(t); !r) return r.error();
            } else if (c == '\'') {
                if (auto r = character(t); !r) return r.error();
            } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                       ((c == '-' || c == '+') && pos_ + 1 < s_.size() &&
                        (std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])) || s_[pos_ + 1] == '.'))) {
                if (auto n = number(t); !n) return n.error();
            } else if (is_ident_char(c)) {
                size_t e = pos_;
                while (e < s_.size() && is_ident_char(s_[e])) ++e;
                t.kind = Token::Kind::Ident;
                t.text = s_.substr(pos_, e - pos_);
                pos_ = e;
            } else if (c == '(' || c == ')' || c == '|' || c == ',' || c == '=') {
                t.kind = c == '('   ? Token::Kind::LParen
                         : c == ')' ? Token::Kind::RParen
                         : c == '|' ? Token::Kind::Pipe
                         : c == ',' ? Token::Kind::Comma
                                    : Token::Kind::Assign;
                t.text = std::string(1, c);
                ++pos_;
            } else if (c == ':' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '=') {
                t.kind = Token::Kind::Declare;
                t.text = ":=";
                pos_ += 2;
            } else {
                return err(std::string("unexpected character '") + c + "' in action");
            }
            out.push_back(std::move(t));
        }
    }

    size_t pos() const { return pos_; }
    int line() const { return line_; }

  private:
    Error err(const std::string& m) const { return Error{"line " + std::to_string(line_) + ": " + m}; }

    Status string(Token& t) {
        const char q = s_[pos_++];
        t.kind = Token::Kind::String;
        if (q == '`') {
            const size_t e = s_.find('`', pos_);
            if (e == std::string::npos) return err("unterminated raw string");
            t.text = s_.substr(pos_, e - pos_);
            line_ += static_cast<int>(std::count(t.text.begin(), t.text.end(), '\n'));
            pos_ = e + 1;
            return {};
        }
        for (;;) {
            if (pos_ >= s_.size() || s_[pos_] == '\n') return err("unterminated quoted string");
            const char c = s_[pos_++];
            if (c == '"') return {};
            if (c != '\\') {
                t.text += c;
                continue;
            }
            if (pos_ >= s_.size()) return err("unterminated quoted string");
            const char e = s_[pos_++];
            switch (e) {
                case 'n':
                    t.text += '\n';
                    break;
                case 't':
                    t.text += '\t';
                    break;
                case 'r':
                    t.text += '\r';
                    break;
                case 'a':
                    t.text += '\a';
                    break;
                case 'b':
                    t.text += '\b';
                    break;
                case 'f':
                    t.text += '\f';
                    break;
                case 'v':
                    t.text += '\v';
                    break;
                case '\\':
                    t.text += '\\';
                    break;
                case '"':
                    t.text += '"';
                    break;
                case '\'':
                    t.text += '\'';
                    break;
                case 'x':
                case 'u':
                case 'U': {
                    const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (pos_ + n > s_.size()) return err("bad escape in string");
                    uint32_t cp = 0;
                    for (size_t i = 0; i < n; ++i) {
                        const char h = s_[pos_ + i];
                        if (!std::isxdigit(static_cast<unsigned char>(h))) return err("bad escape in string");
                        cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                                 ? h - '0'
                                                                 : (h | 0x20) - 'a' + 10);
                    }
                    pos_ += n;
                    if (e == 'x')
                        t.text += static_cast<char>(cp);
                    else
                        append_utf8(t.text, cp);
                    break;
                }
                default:
                    return err(std::string("unknown escape \\") + e + " in string");
            }
        }
    }

    Status character(Token& t) {
        ++pos_;
        if (pos_ + 1 >= s_.size()) return err("unterminated character constant");
        // A single byte (ASCII) is what templates use; wider runes are refused clearly.
        if (s_[pos_ + 1] != '\'' || static_cast<unsigned char>(s_[pos_]) >= 0x80)
            return err("unsupported character constant");
        t.kind = Token::Kind::Char;
        t.text = std::to_string(static_cast<int>(static_cast<unsigned char>(s_[pos_])));
        pos_ += 2;
        return {};
    }

    Status number(Token& t) {
        size_t e = pos_;
        if (s_[e] == '-' || s_[e] == '+') ++e;
        while (e < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '.' || s_[e] == '_' ||
                                 ((s_[e] == '-' || s_[e] == '+') && (s_[e - 1] == 'e' || s_[e - 1] == 'E'))))
            ++e;
        t.kind = Token::Kind::Number;
        t.text = s_.substr(pos_, e - pos_);
        pos_ = e;
        return {};
    }

    static void append_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    const std::string& s_;
    size_t pos_;
    int line_;
};

Result<Value> parse_number(const std::string& text, int line) {
    std::string s;
    for (char c : text)
        if (c != '_') s += c;
    const bool is_float = s.find_first_of(".eE") != std::string::npos && s.find("0x") == std::string::npos &&
                          s.find("0X") == std::string::npos;
    char* end = nullptr;
    if (is_float) {
        const double d = std::strtod(s.c_str(), &end);
        if (end && *end == '\0') return Value(d);
    } else {
        errno = 0;
        const long long v = std::strtoll(s.c_str(), &end, 0);
        if (end && *end == '\0' && errno == 0) return Value(v);
    }
    return Error{"line " + std::to_string(line) + ": bad number syntax: " + text};
}

// ---------------------------------------------------------------- parsing

class Parser {
  public:
    explicit Parser(const std::string& s) : s_(s) {}

    Result<NodeList> parse() {
        NodeList root;
        std::string end_word;
        if (auto r = list(root, end_word); !r) return r.error();
        if (!end_word.empty()) return err(line_, "unexpected {{ " + end_word + " }}");
        return root;
    }

  private:
    static Error err(int line, const std::string& m) { return Error{"line " + std::to_string(line) + ": " + m}; }

    // One action's tokens, or none at the end of the source. Text before it goes to `into`.
    struct Action {
        std::vector<Token> tokens;
        int line = 1;
        bool eof = false;
    };

    Result<Action> next(NodeList& into) {
        Action a;
        for (;;) {
            const size_t open = s_.find("{{", pos_);
            std::string text = s_.substr(pos_, open == std::string::npos ? std::string::npos : open - pos_);
            bool trim_left = false;
            if (open != std::string::npos && open + 3 <= s_.size() && s_[open + 2] == '-' &&
                (open + 3 == s_.size() || is_space(s_[open + 3])))
                trim_left = true;
            if (trim_right_) {
                size_t i = 0;
                while (i < text.size() && is_space(text[i])) ++i;
                text.erase(0, i);
            }
            if (trim_left)
                while (!text.empty() && is_space(text.back())) text.pop_back();
            if (!text.empty()) {
                auto n = std::make_shared<Node>();
                n->kind = Node::Kind::Text;
                n->text = std::move(text);
                n->line = line_;
                into.push_back(std::move(n));
            }
            const size_t upto = open == std::string::npos ? s_.size() : open;
            line_ += static_cast<int>(
                std::count(s_.begin() + static_cast<long>(pos_), s_.begin() + static_cast<long>(upto), '\n'));
            if (open == std::string::npos) {
                pos_ = s_.size();
                a.eof = true;
                return a;
            }
            const size_t body = std::min(open + 2 + (trim_left ? 2 : 0), s_.size());
            a.line = line_;
            // A comment: {{/* … */}}, with optional trim markers around it.
            size_t c = body;
            while (trim_left && c < s_.size() && is_space(s_[c])) ++c;
            if (s_.compare(c, 2, "/*") == 0) {
                const size_t close = s_.find("*/", c + 2);
                if (close == std::string::npos) return err(line_, "unclosed comment");
                line_ += static_cast<int>(
                    std::count(s_.begin() + static_cast<long>(c), s_.begin() + static_cast<long>(close), '\n'));
                size_t after = close + 2;
                trim_right_ = false;
                if (s_.compare(after, 4, " -}}") == 0) {
                    trim_right_ = true;
                    after += 4;
                } else if (s_.compare(after, 2, "}}") == 0) {
                    after += 2;
                } else {
                    return err(line_, "comment ends before closing delimiter");
                }
                pos_ = after;
                continue;
            }
            Lexer lx(s_, body, line_);
            bool trim_right = false;
            auto toks = lx.action(trim_right);
            if (!toks) return toks.error();
            pos_ = lx.pos();
            line_ = lx.line();
            trim_right_ = trim_right;
            a.tokens = std::move(toks.value());
            if (a.tokens.empty()) return err(a.line, "missing value for command");
            return a;
        }
    }

    // Parses nodes into `out` until {{ end }} or {{ else … }}; end_word tells which ("" at EOF).
    // For "else", the rest of the else action's tokens are left in else_tokens_.
    Status list(NodeList& out, std::string& end_word) {
        for (;;) {
            auto a = next(out);
            if (!a) return a.error();
            if (a->eof) {
                end_word.clear();
                return {};
            }
            auto& t = a->tokens;
            const std::string word = t[0].kind == Token::Kind::Ident ? t[0].text : "";
            if (word == "end") {
                if (t.size() != 1) return err(a->line, "unexpected tokens after end");
                end_word = "end";
                return {};
            }
            if (word == "else") {
                end_word = "else";
                else_tokens_.assign(t.begin() + 1, t.end());
                else_line_ = a->line;
                return {};
            }
            if (word == "define" || word == "template" || word == "block")
                return err(a->line, "{{ " + word + " }} is not supported");
            if (word == "break" || word == "continue") {
                if (loop_depth_ == 0) return err(a->line, "{{ " + word + " }} outside {{ range }}");
                if (t.size() != 1) return err(a->line, "unexpected tokens after " + word);
                auto n = std::make_shared<Node>();
                n->kind = word == "break" ? Node::Kind::Break : Node::Kind::Continue;
                n->line = a->line;
                out.push_back(std::move(n));
                continue;
            }
            if (word == "if" || word == "range" || word == "with") {
                auto n = control(word, std::vector<Token>(t.begin() + 1, t.end()), a->line);
                if (!n) return n.error();
                out.push_back(std::move(n.value()));
                continue;
            }
            auto p = pipeline(t, 0, t.size(), a->line, true);
            if (!p) return p.error();
            auto n = std::make_shared<Node>();
            n->kind = Node::Kind::Action;
            n->pipe = std::move(p.value());
            n->line = a->line;
            out.push_back(std::move(n));
        }
    }

    Result<std::shared_ptr<Node>> control(const std::string& word, std::vector<Token> toks, int line) {
        auto n = std::make_shared<Node>();
        n->kind = word == "if" ? Node::Kind::If : word == "range" ? Node::Kind::Range : Node::Kind::With;
        n->line = line;
        if (toks.empty()) return err(line, "missing value for " + word);
        auto p = pipeline(toks, 0, toks.size(), line, true);
        if (!p) return p.error();
        if (word == "range" && (*p)->declared.size() > 2) return err(line, "too many declarations in range");
        if (word != "range" && (*p)->declared.size() > 1) return err(line, "too many declarations in " + word);
        n->pipe = std::move(p.value());
        std::string end_word;
        if (word == "range") ++loop_depth_;
        Status body = list(n->list, end_word);
        if (word == "range") --loop_depth_;
        if (!body) return body.error();
        if (end_word.empty()) return err(line, "unexpected EOF: {{ " + word + " }} has no {{ end }}");
        if (end_word == "else") {
            std::vector<Token> rest = std::move(else_tokens_);
            if (!rest.empty()) {
                // "else if …" / "else with …": a nested control that shares this one's {{ end }}.
                if (rest[0].kind != Token::Kind::Ident || (rest[0].text != "if" && rest[0].text != "with"))
                    return err(else_line_, "unexpected tokens after else");
                const std::string nested = rest[0].text;
                auto e = control(nested, std::vector<Token>(rest.begin() + 1, rest.end()), else_line_);
                if (!e) return e.error();
                n->else_list.push_back(std::move(e.value()));
                return n;
            }
            if (auto r = list(n->else_list, end_word); !r) return r.error();
            if (end_word != "end") return err(line, "expected {{ end }} after {{ else }}");
        }
        return n;
    }

    Result<std::shared_ptr<Pipeline>> pipeline(const std::vector<Token>& t, size_t from, size_t to, int line,
                                               bool allow_decl) {
        auto p = std::make_shared<Pipeline>();
        p->line = line;
        size_t i = from;
        // "$x :=", "$x =", "$i, $x :=".
        if (allow_decl && i < to && t[i].kind == Token::Kind::Variable) {
            size_t j = i;
            std::vector<std::string> names;
            names.push_back(t[j].text);
            ++j;
            if (j + 1 < to && t[j].kind == Token::Kind::Comma && t[j + 1].kind == Token::Kind::Variable) {
                names.push_back(t[j + 1].text);
                j += 2;
            }
            if (j < to && (t[j].kind == Token::Kind::Declare || t[j].kind == Token::Kind::Assign)) {
                p->assign = t[j].kind == Token::Kind::Assign;
                p->declared = std::move(names);
                i = j + 1;
            }
        }
        Command cmd;
        for (; i < to; ++i) {
            if (t[i].kind == Token::Kind::Pipe) {
                if (cmd.args.empty()) return err(line, "missing command before |");
                p->commands.push_back(std::move(cmd));
                cmd = Command{};
                continue;
            }
            auto o = operand(t, i, to, line);
            if (!o) return o.error();
            cmd.args.push_back(std::move(o.value()));
        }
        if (cmd.args.empty()) return err(line, "missing value for command");
        p->commands.push_back(std::move(cmd));
        return p;
    }

    // One operand starting at t[i]; i is left on its last token.
    Result<std::shared_ptr<Operand>> operand(const std::vector<Token>& t, size_t& i, size_t to, int line) {
        auto o = std::make_shared<Operand>();
        const Token& k = t[i];
        switch (k.kind) {
            case Token::Kind::Field:
                o->kind = Operand::Kind::Field;
                o->chain.push_back(k.text);
                break;
            case Token::Kind::Dot:
                o->kind = Operand::Kind::Dot;
                break;
            case Token::Kind::Variable:
                o->kind = Operand::Kind::Variable;
                o->name = k.text;
                break;
            case Token::Kind::String:
                o->literal = k.text;
                break;
            case Token::Kind::Char:
                o->literal = std::stoll(k.text);
                break;
            case Token::Kind::Number: {
                auto v = parse_number(k.text, line);
                if (!v) return v.error();
                o->literal = std::move(v.value());
                break;
            }
            case Token::Kind::Ident:
                if (k.text == "true" || k.text == "false") {
                    o->literal = k.text == "true";
                } else if (k.text == "nil") {
                    o->literal = nullptr;
                } else if (kFunctions.count(k.text)) {
                    o->kind = Operand::Kind::Function;
                    o->name = k.text;
                    if (k.text == "call" || k.text == "html" || k.text == "js" || k.text == "urlquery")
                        return err(line, "function \"" + k.text + "\" is not supported");
                } else {
                    return err(line, "function \"" + k.text + "\" not defined");
                }
                break;
            case Token::Kind::LParen: {
                int depth = 0;
                size_t j = i;
                for (; j < to; ++j) {
                    if (t[j].kind == Token::Kind::LParen) ++depth;
                    if (t[j].kind == Token::Kind::RParen && --depth == 0) break;
                }
                if (j >= to) return err(line, "unclosed left paren");
                auto p = pipeline(t, i + 1, j, line, false);
                if (!p) return p.error();
                o->kind = Operand::Kind::Sub;
                o->sub = std::move(p.value());
                i = j;
                break;
            }
            default:
                return err(line, "unexpected \"" + k.text + "\" in command");
        }
        // Attached fields: ".A.B", "$x.A", "(…).A".
        while (i + 1 < to && t[i + 1].attached && t[i + 1].kind == Token::Kind::Field) {
            if (o->kind == Operand::Kind::Literal || o->kind == Operand::Kind::Function)
                return err(line, "unexpected . after term");
            o->chain.push_back(t[i + 1].text);
            ++i;
        }
        return o;
    }

    const std::string& s_;
    size_t pos_ = 0;
    int line_ = 1;
    bool trim_right_ = false;
    int loop_depth_ = 0;
    std::vector<Token> else_tokens_;
    int else_line_ = 1;
};

// ---------------------------------------------------------------- tree walks

void identifiers(const Pipeline& p, std::vector<std::string>& out);

void identifiers(const Operand& o, std::vector<std::string>& out) {
    if (o.kind == Operand::Kind::Field) out.insert(out.end(), o.chain.begin(), o.chain.end());
    if (o.kind == Operand::Kind::Variable) {
        out.push_back(o.name);
        out.insert(out.end(), o.chain.begin(), o.chain.end());
    }
}

void identifiers(const Pipeline& p, std::vector<std::string>& out) {
    for (const auto& c : p.commands)
        for (const auto& a : c.args) identifiers(*a, out);
}

void identifiers(const NodeList& nodes, std::vector<std::string>& out) {
    for (const auto& n : nodes) {
        if (n->pipe) identifiers(*n->pipe, out);
        identifiers(n->list, out);
        identifiers(n->else_list, out);
    }
}

bool mentions(const Operand& o, const std::string& field) {
    return (o.kind == Operand::Kind::Field || o.kind == Operand::Kind::Variable) &&
           std::find(o.chain.begin(), o.chain.end(), field) != o.chain.end();
}

// Ollama's cut: walking in document order, everything after the first mention of the field goes
// (conditions of if/range/with are not walked, as in Ollama's deleteNode).
std::shared_ptr<Node> cut(const std::shared_ptr<Node>& n, const std::string& field, bool& done);

NodeList cut_list(const NodeList& nodes, const std::string& field, bool& done) {
    NodeList out;
    for (const auto& n : nodes) {
        if (done) break;
        if (auto c = cut(n, field, done)) out.push_back(std::move(c));
    }
    return out;
}

std::shared_ptr<Node> cut(const std::shared_ptr<Node>& n, const std::string& field, bool& done) {
    auto c = std::make_shared<Node>(*n);
    if (n->kind == Node::Kind::Action) {
        auto p = std::make_shared<Pipeline>(*n->pipe);
        std::vector<Command> commands;
        for (const auto& cmd : p->commands) {
            if (done) break;
            Command kept;
            for (const auto& a : cmd.args) {
                if (done) break;
                kept.args.push_back(a);
                if (mentions(*a, field)) done = true;
            }
            if (kept.args.empty()) break;
            commands.push_back(std::move(kept));
        }
        if (commands.empty()) return nullptr;
        p->commands = std::move(commands);
        c->pipe = std::move(p);
        return c;
    }
    c->list = cut_list(n->list, field, done);
    c->else_list = cut_list(n->else_list, field, done);
    return c;
}

}  // namespace

Result<Template> Template::parse(const std::string& source) {
    Parser p(source);
    auto nodes = p.parse();
    if (!nodes) return nodes.error();
    Template t;
    t.root_ = std::make_shared<const NodeList>(std::move(nodes.value()));
    return t;
}

std::vector<std::string> Template::identifiers() const {
    std::vector<std::string> names;
    go::identifiers(*root_, names);
    for (auto& n : names)
        std::transform(n.begin(), n.end(), n.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

Template Template::cut_after_field(const std::string& field) const {
    bool done = false;
    Template t;
    t.root_ = std::make_shared<const NodeList>(cut_list(*root_, field, done));
    return t;
}

void Template::append_field(const std::string& field) {
    auto o = std::make_shared<Operand>();
    o->kind = Operand::Kind::Field;
    o->chain = {field};
    auto p = std::make_shared<Pipeline>();
    p->commands.push_back(Command{{o}});
    auto n = std::make_shared<Node>();
    n->kind = Node::Kind::Action;
    n->pipe = std::move(p);
    NodeList nodes = *root_;
    nodes.push_back(std::move(n));
    root_ = std::make_shared<const NodeList>(std::move(nodes));
}

}  // namespace tf::chat::go
