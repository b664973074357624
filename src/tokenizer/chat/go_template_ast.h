// The syntax tree of a Go text/template (go_template.h), shared by its parser and its
// evaluator; not for use elsewhere.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/chat/go_template.h"

namespace tf::chat::go {

struct Pipeline;

struct Operand {
    enum class Kind { Field, Variable, Dot, Function, Literal, Sub } kind = Kind::Literal;
    std::string name;                // Variable: "$" or "$x"; Function: its name
    std::vector<std::string> chain;  // field names applied after the operand (Field: all of them)
    Value literal;
    std::shared_ptr<Pipeline> sub;
};

struct Command {
    std::vector<std::shared_ptr<Operand>> args;
};

struct Pipeline {
    std::vector<std::string> declared;  // $i, $x in "$i, $x := …"
    bool assign = false;                // "=" rather than ":="
    std::vector<Command> commands;
    int line = 1;
};

using NodeList = std::vector<std::shared_ptr<Node>>;

struct Node {
    enum class Kind { Text, Action, If, Range, With, Break, Continue } kind = Kind::Text;
    std::string text;
    std::shared_ptr<Pipeline> pipe;
    NodeList list, else_list;
    int line = 1;
};

// The evaluator's entry (go_template_exec.cpp).
Result<std::string> execute_nodes(const NodeList& nodes, const Value& data, const Fields* fields);

}  // namespace tf::chat::go
