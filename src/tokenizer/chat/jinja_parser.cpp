#include <cctype>
#include <cstring>

#include "tokenizer/chat/jinja_ast.h"

namespace tf::jinja {

namespace {

// ---- Splitting the source into text and tags ------------------------------------------------

struct Segment {
    enum class Kind { Text, Expr, Stmt } kind;
    std::string content;
    int line;
};

std::vector<Segment> split_segments(const std::string& src) {
    std::vector<Segment> out;
    size_t pos = 0;
    int line = 1;
    bool strip_next_ws = false, trim_next_newline = false;
    auto count_lines = [&](size_t from, size_t to) {
        for (size_t i = from; i < to; ++i) line += src[i] == '\n';
    };
    while (pos < src.size()) {
        size_t open = src.find('{', pos);
        while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' && src[open + 1] != '%' &&
               src[open + 1] != '#') {
            open = src.find('{', open + 1);
        }
        if (open + 1 >= src.size()) open = std::string::npos;
        std::string text = src.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
        const int text_line = line;
        if (trim_next_newline && !text.empty() && text[0] == '\n') text.erase(0, 1);
        if (strip_next_ws) {
            size_t k = 0;
            while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
            text.erase(0, k);
        }
        strip_next_ws = trim_next_newline = false;
        if (open == std::string::npos) {
            if (!text.empty()) out.push_back({Segment::Kind::Text, text, text_line});
            break;
        }
        const char type = src[open + 1];
        const char* close_tag = type == '{' ? "}}" : type == '%' ? "%}" : "#}";
        size_t inner = open + 2;
        bool strip_before = false;
        bool lstrip_allowed = type != '{';
        if (inner < src.size() && src[inner] == '-') {
            strip_before = true;
            ++inner;
        } else if (inner < src.size() && src[inner] == '+') {
            lstrip_allowed = false;
            ++inner;
        }
        if (strip_before) {
            size_t k = text.size();
            while (k > 0 && std::isspace(static_cast<unsigned char>(text[k - 1]))) --k;
            text.resize(k);
        } else if (lstrip_allowed) {
            // lstrip_blocks: a block tag preceded on its line only by spaces and tabs takes them away.
            size_t k = open;
            while (k > 0 && (src[k - 1] == ' ' || src[k - 1] == '\t')) --k;
            if (k == 0 || src[k - 1] == '\n') {
                size_t t = text.size();
                while (t > 0 && (text[t - 1] == ' ' || text[t - 1] == '\t')) --t;
                text.resize(t);
            }
        }
        if (!text.empty()) out.push_back({Segment::Kind::Text, text, text_line});
        count_lines(pos, open);
        size_t close = src.find(close_tag, inner);
        if (type != '#') {
            // A closing delimiter inside a string literal does not end the tag.
            const char end_char = type == '{' ? '}' : '%';
            size_t k = inner;
            char quote = 0;
            for (; k + 1 < src.size(); ++k) {
                if (quote) {
                    if (src[k] == '\\') ++k;
                    else if (src[k] == quote) quote = 0;
                } else if (src[k] == '\'' || src[k] == '"') {
                    quote = src[k];
                } else if (src[k] == end_char && src[k + 1] == '}') {
                    break;
                }
            }
            close = k + 1 < src.size() ? k : std::string::npos;
        }
        if (close == std::string::npos) throw ParseError{line, std::string("unclosed '") + src.substr(open, 2) + "' tag"};
        size_t content_end = close;
        if (content_end > inner && src[content_end - 1] == '-') {
            strip_next_ws = true;
            --content_end;
        } else if (content_end > inner && src[content_end - 1] == '+') {
            --content_end;
        } else if (type != '{') {
            trim_next_newline = true;  // trim_blocks
        }
        const std::string content = src.substr(inner, content_end - inner);
        if (type != '#') out.push_back({type == '{' ? Segment::Kind::Expr : Segment::Kind::Stmt, content, line});
        count_lines(open, close + 2);
        pos = close + 2;
    }
    return out;
}

// ---- Tokens of expressions -----------------------------------------------------------------

struct Token {
    enum class Kind { Name, String, Int, Float, Op, End } kind;
    std::string text;
    int64_t i = 0;
    double f = 0;
};

std::vector<Token> lex(const std::string& s, int line) {
    std::vector<Token> out;
    size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
            continue;
        }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t j = i;
            while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
            out.push_back({Token::Kind::Name, s.substr(i, j - i)});
            i = j;
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            size_t j = i;
            bool is_float = false;
            while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
            if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
                is_float = true;
                ++j;
                while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
            }
            if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
                is_float = true;
                ++j;
                if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
                while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
            }
            std::string num;
            for (size_t k = i; k < j; ++k) {
                if (s[k] != '_') num.push_back(s[k]);
            }
            Token t{is_float ? Token::Kind::Float : Token::Kind::Int, num};
            try {
                if (is_float) t.f = std::stod(num);
                else t.i = std::stoll(num);
            } catch (const std::exception&) {
                throw ParseError{line, "number '" + num + "' is out of range"};
            }
            out.push_back(t);
            i = j;
            continue;
        }
        if (c == '\'' || c == '"') {
            std::string val;
            size_t j = i + 1;
            for (; j < s.size() && s[j] != c; ++j) {
                if (s[j] == '\\' && j + 1 < s.size()) {
                    const char e = s[++j];
                    switch (e) {
                        case 'n': val.push_back('\n'); break;
                        case 't': val.push_back('\t'); break;
                        case 'r': val.push_back('\r'); break;
                        case '0': val.push_back('\0'); break;
                        case '\\': val.push_back('\\'); break;
                        case '\'': val.push_back('\''); break;
                        case '"': val.push_back('"'); break;
                        case '\n': break;
                        default:
                            val.push_back('\\');
                            val.push_back(e);
                    }
                } else {
                    val.push_back(s[j]);
                }
            }
            if (j >= s.size()) throw ParseError{line, "unterminated string literal"};
            out.push_back({Token::Kind::String, val});
            i = j + 1;
            continue;
        }
        static const char* const ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                          "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="};
        bool matched = false;
        for (const char* op : ops) {
            const size_t n = std::strlen(op);
            if (s.compare(i, n, op) == 0) {
                out.push_back({Token::Kind::Op, op});
                i += n;
                matched = true;
                break;
            }
        }
        if (!matched) throw ParseError{line, std::string("unexpected character '") + c + "'"};
    }
    out.push_back({Token::Kind::End, ""});
    return out;
}

// ---- Expressions ---------------------------------------------------------------------------

class ExprParser {
  public:
    ExprParser(std::vector<Token> toks, int line) : t_(std::move(toks)), line_(line) {}

    const Token& peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
    bool at_end() const { return peek().kind == Token::Kind::End; }
    bool is_op(const char* op, size_t k = 0) const { return peek(k).kind == Token::Kind::Op && peek(k).text == op; }
    bool is_name(const char* n, size_t k = 0) const { return peek(k).kind == Token::Kind::Name && peek(k).text == n; }
    Token next() { return t_[std::min(p_++, t_.size() - 1)]; }
    void expect_op(const char* op) {
        if (!is_op(op)) fail(std::string("expected '") + op + "', found '" + peek().text + "'");
        ++p_;
    }
    std::string expect_name() {
        if (peek().kind != Token::Kind::Name) fail("expected a name, found '" + peek().text + "'");
        return next().text;
    }
    [[noreturn]] void fail(const std::string& m) const { throw ParseError{line_, m}; }

    ExprPtr make(Expr::Kind k) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line_;
        return e;
    }

    ExprPtr expression() {
        ExprPtr e = or_expr();
        if (is_name("if")) {
            ++p_;
            auto t = make(Expr::Kind::Ternary);
            t->b = or_expr();  // condition
            t->a = std::move(e);
            if (is_name("else")) {
                ++p_;
                t->c = expression();
            }
            return t;
        }
        return e;
    }

    // expression, or an unparenthesized tuple (`for a, b in …`, `set a, b = …`)
    ExprPtr tuple_or_expression() {
        ExprPtr first = expression();
        if (!is_op(",")) return first;
        auto tup = make(Expr::Kind::Tuple);
        tup->items.push_back(std::move(first));
        while (is_op(",")) {
            ++p_;
            if (at_end()) break;
            tup->items.push_back(expression());
        }
        return tup;
    }

    ExprPtr or_expr() {
        ExprPtr l = and_expr();
        while (is_name("or")) {
            ++p_;
            auto e = make(Expr::Kind::Or);
            e->a = std::move(l);
            e->b = and_expr();
            l = std::move(e);
        }
        return l;
    }
    ExprPtr and_expr() {
        ExprPtr l = not_expr();
        while (is_name("and")) {
            ++p_;
            auto e = make(Expr::Kind::And);
            e->a = std::move(l);
            e->b = not_expr();
            l = std::move(e);
        }
        return l;
    }
    ExprPtr not_expr() {
        if (is_name("not")) {
            ++p_;
            auto e = make(Expr::Kind::Not);
            e->a = not_expr();
            return e;
        }
        return compare();
    }
    ExprPtr compare() {
        ExprPtr l = concat();
        while (true) {
            std::string op;
            if (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">=")) {
                op = next().text;
            } else if (is_name("in")) {
                ++p_;
                op = "in";
            } else if (is_name("not") && is_name("in", 1)) {
                p_ += 2;
                op = "not in";
            } else {
                break;
            }
            auto e = make(Expr::Kind::Binary);
            e->name = op;
            e->a = std::move(l);
            e->b = concat();
            l = std::move(e);
        }
        return l;
    }
    ExprPtr concat() {
        ExprPtr l = sum();
        while (is_op("~")) {
            ++p_;
            auto e = make(Expr::Kind::Binary);
            e->name = "~";
            e->a = std::move(l);
            e->b = sum();
            l = std::move(e);
        }
        return l;
    }
    ExprPtr sum() {
        ExprPtr l = product();
        while (is_op("+") || is_op("-")) {
            auto e = make(Expr::Kind::Binary);
            e->name = next().text;
            e->a = std::move(l);
            e->b = product();
            l = std::move(e);
        }
        return l;
    }
    ExprPtr product() {
        ExprPtr l = power();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            auto e = make(Expr::Kind::Binary);
            e->name = next().text;
            e->a = std::move(l);
            e->b = power();
            l = std::move(e);
        }
        return l;
    }
    ExprPtr power() {
        ExprPtr l = unary();
        while (is_op("**")) {
            ++p_;
            auto e = make(Expr::Kind::Binary);
            e->name = "**";
            e->a = std::move(l);
            e->b = unary();
            l = std::move(e);
        }
        return l;
    }
    ExprPtr unary() {
        // Hostile templates must not exhaust the stack: nesting is bounded.
        struct Depth {
            int& d;
            explicit Depth(int& depth, const ExprParser& p) : d(depth) {
                if (++d > kMaxNesting) p.fail("expression nested too deeply");
            }
            ~Depth() { --d; }
        } guard(depth_, *this);
        if (is_op("-") || is_op("+")) {
            auto e = make(Expr::Kind::Unary);
            e->name = next().text;
            e->a = unary();
            return e;
        }
        return filtered(postfix(primary()));
    }

    void call_args(Expr& e) {
        expect_op("(");
        while (!is_op(")")) {
            if (peek().kind == Token::Kind::Name && is_op("=", 1)) {
                std::string k = next().text;
                ++p_;
                e.kwargs.emplace_back(k, expression());
            } else {
                e.items.push_back(expression());
            }
            if (!is_op(")")) expect_op(",");
        }
        expect_op(")");
    }

    ExprPtr postfix(ExprPtr e) {
        while (true) {
            if (is_op(".")) {
                ++p_;
                auto a = make(Expr::Kind::Attr);
                a->name = peek().kind == Token::Kind::Int ? next().text : expect_name();
                a->a = std::move(e);
                e = std::move(a);
            } else if (is_op("[")) {
                ++p_;
                ExprPtr start, stop, step;
                bool slice = false;
                if (!is_op(":")) start = expression();
                if (is_op(":")) {
                    slice = true;
                    ++p_;
                    if (!is_op(":") && !is_op("]")) stop = expression();
                    if (is_op(":")) {
                        ++p_;
                        if (!is_op("]")) step = expression();
                    }
                }
                expect_op("]");
                auto x = make(slice ? Expr::Kind::Slice : Expr::Kind::Index);
                x->a = std::move(e);
                if (slice) {
                    x->items.push_back(std::move(start));
                    x->items.push_back(std::move(stop));
                    x->items.push_back(std::move(step));
                } else {
                    x->b = std::move(start);
                }
                e = std::move(x);
            } else if (is_op("(")) {
                auto c = make(Expr::Kind::Call);
                c->a = std::move(e);
                call_args(*c);
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    ExprPtr filtered(ExprPtr e) {
        while (true) {
            if (is_op("|")) {
                ++p_;
                auto f = make(Expr::Kind::Filter);
                f->name = expect_name();
                f->a = std::move(e);
                if (is_op("(")) call_args(*f);
                e = postfix(std::move(f));
            } else if (is_name("is")) {
                ++p_;
                auto t = make(Expr::Kind::Test);
                if (is_name("not")) {
                    ++p_;
                    t->negated = true;
                }
                t->name = expect_name();
                t->a = std::move(e);
                if (is_op("(")) {
                    call_args(*t);
                } else if (peek().kind == Token::Kind::String || peek().kind == Token::Kind::Int ||
                           peek().kind == Token::Kind::Float ||
                           (peek().kind == Token::Kind::Name && !is_name("and") && !is_name("or") && !is_name("else") &&
                            !is_name("if") && !is_name("is") && !is_name("not") && !is_name("in"))) {
                    t->items.push_back(primary());  // `is divisibleby 3`, `is sameas none`
                }
                e = std::move(t);
            } else {
                return e;
            }
        }
    }

    ExprPtr primary() {
        const Token tok = next();
        switch (tok.kind) {
            case Token::Kind::String: {
                std::string s = tok.text;
                while (peek().kind == Token::Kind::String) s += next().text;  // adjacent literals concatenate
                auto e = make(Expr::Kind::Literal);
                e->literal = Value(s);
                return e;
            }
            case Token::Kind::Int: {
                auto e = make(Expr::Kind::Literal);
                e->literal = Value(tok.i);
                return e;
            }
            case Token::Kind::Float: {
                auto e = make(Expr::Kind::Literal);
                e->literal = Value(tok.f);
                return e;
            }
            case Token::Kind::Name: {
                auto e = make(Expr::Kind::Literal);
                if (tok.text == "true" || tok.text == "True") e->literal = Value(true);
                else if (tok.text == "false" || tok.text == "False") e->literal = Value(false);
                else if (tok.text == "none" || tok.text == "None") e->literal = Value::none();
                else {
                    e->kind = Expr::Kind::Name;
                    e->name = tok.text;
                }
                return e;
            }
            case Token::Kind::Op:
                if (tok.text == "(") {
                    if (is_op(")")) {
                        ++p_;
                        return make(Expr::Kind::Tuple);
                    }
                    ExprPtr first = expression();
                    if (is_op(")")) {
                        ++p_;
                        return first;
                    }
                    auto tup = make(Expr::Kind::Tuple);
                    tup->items.push_back(std::move(first));
                    while (is_op(",")) {
                        ++p_;
                        if (is_op(")")) break;
                        tup->items.push_back(expression());
                    }
                    expect_op(")");
                    return tup;
                }
                if (tok.text == "[") {
                    auto l = make(Expr::Kind::List);
                    while (!is_op("]")) {
                        l->items.push_back(expression());
                        if (!is_op("]")) expect_op(",");
                    }
                    expect_op("]");
                    return l;
                }
                if (tok.text == "{") {
                    auto d = make(Expr::Kind::Dict);
                    while (!is_op("}")) {
                        d->items.push_back(expression());
                        expect_op(":");
                        d->items.push_back(expression());
                        if (!is_op("}")) expect_op(",");
                    }
                    expect_op("}");
                    return d;
                }
                break;
            default: break;
        }
        fail("unexpected '" + tok.text + "' in expression");
    }

  private:
    static constexpr int kMaxNesting = 200;
    std::vector<Token> t_;
    size_t p_ = 0;
    int line_;
    int depth_ = 0;
};

// ---- Statements ----------------------------------------------------------------------------

class StmtParser {
  public:
    explicit StmtParser(std::vector<Segment> segs) : segs_(std::move(segs)) {}

    Body parse_all() {
        Body b = parse_body({});
        if (pos_ < segs_.size()) throw ParseError{segs_[pos_].line, "unexpected '{% " + keyword_of(segs_[pos_]) + " %}'"};
        return b;
    }

  private:
    static std::string keyword_of(const Segment& s) {
        size_t i = 0;
        while (i < s.content.size() && std::isspace(static_cast<unsigned char>(s.content[i]))) ++i;
        size_t j = i;
        while (j < s.content.size() && (std::isalnum(static_cast<unsigned char>(s.content[j])) || s.content[j] == '_')) ++j;
        return s.content.substr(i, j - i);
    }

    // Parses statements until one of `stops` (left unconsumed) or the end.
    Body parse_body(const std::vector<std::string>& stops) {
        Body body;
        while (pos_ < segs_.size()) {
            const Segment& s = segs_[pos_];
            if (s.kind == Segment::Kind::Text) {
                auto st = std::make_unique<Stmt>();
                st->kind = Stmt::Kind::Text;
                st->text = s.content;
                st->line = s.line;
                body.push_back(std::move(st));
                ++pos_;
                continue;
            }
            if (s.kind == Segment::Kind::Expr) {
                ExprParser p(lex(s.content, s.line), s.line);
                auto st = std::make_unique<Stmt>();
                st->kind = Stmt::Kind::Output;
                st->line = s.line;
                st->expr = p.expression();
                if (!p.at_end()) p.fail("unexpected '" + p.peek().text + "' after expression");
                body.push_back(std::move(st));
                ++pos_;
                continue;
            }
            const std::string kw = keyword_of(s);
            for (const auto& stop : stops) {
                if (kw == stop) return body;
            }
            body.push_back(parse_statement(kw));
        }
        if (!stops.empty()) {
            throw ParseError{segs_.empty() ? 0 : segs_.back().line, "missing '{% " + stops.back() + " %}'"};
        }
        return body;
    }

    StmtPtr parse_statement(const std::string& kw) {
        const Segment& s = segs_[pos_];
        if (++depth_ > 200) throw ParseError{s.line, "blocks nested too deeply"};
        struct Leave {
            int& d;
            ~Leave() { --d; }
        } leave{depth_};
        ExprParser p(lex(s.content, s.line), s.line);
        p.next();  // the keyword
        auto st = std::make_unique<Stmt>();
        st->line = s.line;
        ++pos_;
        if (kw == "if") {
            st->kind = Stmt::Kind::If;
            ExprPtr cond = p.expression();
            while (true) {
                Body b = parse_body({"elif", "else", "endif"});
                st->branches.emplace_back(std::move(cond), std::move(b));
                const std::string k = keyword_of(segs_[pos_]);
                ExprParser q(lex(segs_[pos_].content, segs_[pos_].line), segs_[pos_].line);
                q.next();
                ++pos_;
                if (k == "endif") break;
                if (k == "elif") {
                    cond = q.expression();
                } else {
                    Body e = parse_body({"endif"});
                    st->branches.emplace_back(nullptr, std::move(e));
                    ++pos_;
                    break;
                }
            }
            return st;
        }
        if (kw == "for") {
            st->kind = Stmt::Kind::For;
            st->targets.push_back(p.expect_name());
            while (p.is_op(",")) {
                p.next();
                st->targets.push_back(p.expect_name());
            }
            if (!p.is_name("in")) p.fail("expected 'in' in for loop");
            p.next();
            st->expr = p.or_expr();
            if (p.is_name("if")) {
                p.next();
                st->filter = p.expression();
            }
            if (p.is_name("recursive")) p.fail("recursive loops are not supported");
            st->body = parse_body({"else", "endfor"});
            if (keyword_of(segs_[pos_]) == "else") {
                ++pos_;
                st->else_body = parse_body({"endfor"});
            }
            ++pos_;
            return st;
        }
        if (kw == "set") {
            std::string name = p.expect_name();
            if (p.is_op(".")) {
                p.next();
                auto obj = p.make(Expr::Kind::Name);
                obj->name = name;
                st->target_object = std::move(obj);
                name = p.expect_name();
            }
            st->targets.push_back(name);
            while (p.is_op(",")) {
                p.next();
                st->targets.push_back(p.expect_name());
            }
            if (p.is_op("=")) {
                p.next();
                st->kind = Stmt::Kind::Set;
                st->expr = p.tuple_or_expression();
            } else {
                st->kind = Stmt::Kind::SetBlock;
                st->body = parse_body({"endset"});
                ++pos_;
            }
            return st;
        }
        if (kw == "macro") {
            st->kind = Stmt::Kind::Macro;
            st->targets.push_back(p.expect_name());
            p.expect_op("(");
            while (!p.is_op(")")) {
                st->targets.push_back(p.expect_name());
                if (p.is_op("=")) {
                    p.next();
                    st->defaults.push_back(p.expression());
                } else {
                    st->defaults.push_back(nullptr);
                }
                if (!p.is_op(")")) p.expect_op(",");
            }
            st->body = parse_body({"endmacro"});
            ++pos_;
            return st;
        }
        if (kw == "break" || kw == "continue") {
            st->kind = kw == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
            return st;
        }
        throw ParseError{s.line, "unsupported tag '{% " + kw + " %}'"};
    }

    std::vector<Segment> segs_;
    size_t pos_ = 0;
    int depth_ = 0;
};

}  // namespace

Body parse_template(const std::string& source) { return StmtParser(split_segments(source)).parse_all(); }

}  // namespace tf::jinja
