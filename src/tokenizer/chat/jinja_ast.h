// The syntax tree of a parsed template.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/chat/jinja_value.h"

namespace tf::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
    enum class Kind {
        Literal, Name, List, Dict, Tuple, Attr, Index, Slice, Call, Filter, Test, Unary, Binary, And, Or, Not, Ternary
    };
    Kind kind;
    int line = 0;
    Value literal;        // Literal
    std::string name;     // Name, Attr, Filter, Test, Unary/Binary operator
    ExprPtr a, b, c;      // operands (object/left, index/right, ternary else / slice step)
    std::vector<ExprPtr> items;                               // List, Tuple, Dict keys+values interleaved, call args
    std::vector<std::pair<std::string, ExprPtr>> kwargs;     // Call, Filter, Test keyword arguments
    bool negated = false;  // Test: `is not`
};

struct Stmt {
    enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue };
    Kind kind;
    int line = 0;
    std::string text;                        // Text
    ExprPtr expr;                            // Output, Set value, For iterable
    std::vector<std::pair<ExprPtr, Body>> branches;  // If: (condition or null for else, body)
    std::vector<std::string> targets;       // For loop variables, Set/SetBlock name, Macro name + params
    ExprPtr target_object;                  // Set ns.attr: the object expression; targets[0] is the attribute
    ExprPtr filter;                         // For ... if filter
    Body body, else_body;                   // For, SetBlock, Macro
    std::vector<ExprPtr> defaults;          // Macro parameter defaults (null when none)
};

struct ParseError {
    int line;
    std::string message;
};

// Parses with the Hugging Face options (trim_blocks, lstrip_blocks); throws ParseError.
Body parse_template(const std::string& source);

}  // namespace tf::jinja
