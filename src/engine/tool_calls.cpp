#include "engine/tool_calls.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "sampling/jsonschema/to_grammar.h"

namespace tf::engine {

using ojson = nlohmann::ordered_json;

ToolSyntax detect_tool_syntax(const std::string& src) {
    // The template spells the recipient " to=" ~ "functions." ~ name.
    if (src.find("<|channel|>") != std::string::npos && src.find("functions.") != std::string::npos)
        return ToolSyntax::Harmony;
    if (src.find("<|tool_call>call:") != std::string::npos) return ToolSyntax::Gemma;
    if (src.find("[TOOL_CALLS]") != std::string::npos) return ToolSyntax::Mistral;
    if (src.find("<tool_call>") != std::string::npos) return ToolSyntax::Hermes;
    if (src.find("<|tool|>") != std::string::npos) return ToolSyntax::Phi4;
    if (src.find("<|python_tag|>") != std::string::npos || src.find("\"parameters\": dictionary") != std::string::npos)
        return ToolSyntax::Llama3;
    return ToolSyntax::Hermes;
}

const char* tool_syntax_name(ToolSyntax s) {
    switch (s) {
        case ToolSyntax::Hermes:
            return "hermes";
        case ToolSyntax::Llama3:
            return "llama3";
        case ToolSyntax::Mistral:
            return "mistral";
        case ToolSyntax::Phi4:
            return "phi4";
        case ToolSyntax::Gemma:
            return "gemma";
        case ToolSyntax::Harmony:
            return "harmony";
    }
    return "hermes";
}

namespace {

// Renames every rule of a generated grammar (names start with a letter; literals and character
// classes are left alone), so that several grammars can share one file.
std::string prefix_rules(const std::string& gbnf, const std::string& prefix) {
    std::string out;
    out.reserve(gbnf.size() * 2);
    for (size_t i = 0; i < gbnf.size();) {
        const char c = gbnf[i];
        if (c == '"' || c == '[') {
            const char close = c == '"' ? '"' : ']';
            size_t j = i + 1;
            while (j < gbnf.size() && gbnf[j] != close) j += gbnf[j] == '\\' ? 2 : 1;
            j = std::min(j + 1, gbnf.size());
            out.append(gbnf, i, j - i);
            i = j;
        } else if (std::isalpha(static_cast<unsigned char>(c))) {
            size_t j = i;
            while (j < gbnf.size() &&
                   (std::isalnum(static_cast<unsigned char>(gbnf[j])) || gbnf[j] == '-' || gbnf[j] == '_'))
                ++j;
            out += prefix;
            out.append(gbnf, i, j - i);
            i = j;
        } else {
            out += c;
            ++i;
        }
    }
    return out;
}

// One alternative per tool: its name as a literal, `between`, then its arguments' grammar in
// `notation` — the rules of every tool prefixed apart. Returns the rules and the alternatives.
Result<std::pair<std::string, std::string>> per_tool_alternatives(const ojson& tools, const std::string& only,
                                                                  jsonschema::Notation notation,
                                                                  bool flexible_whitespace,
                                                                  const std::string& between) {
    std::string gbnf, calls;
    size_t k = 0;
    for (const auto& t : tools) {
        const std::string name = t["function"]["name"];
        if (!only.empty() && name != only) continue;
        ojson params = t["function"].value("parameters", ojson{{"type", "object"}});
        if (params.is_object() && params.empty()) params = {{"type", "object"}};
        jsonschema::GrammarOptions o;
        o.notation = notation;
        o.flexible_whitespace = flexible_whitespace;
        o.ignore_unsupported = false;  // never drop a parameter keyword silently (OutputContract names it)
        auto g = jsonschema::schema_to_gbnf(params, o);
        if (!g) return Error{"tool '" + name + "': " + g.error().message};
        const std::string p = "t" + std::to_string(k++) + "-";
        gbnf += prefix_rules(*g, p);
        std::string literal;
        for (unsigned char c : name) {
            if (c == '"' || c == '\\') literal += '\\';
            literal += static_cast<char>(c);
        }
        calls += (calls.empty() ? "" : " | ") + ("\"" + literal + "\" " + between + p + "root");
    }
    if (k == 0) return Error{"tool_choice names '" + only + "', which is not among the tools"};
    return std::pair{gbnf, calls};
}

Result<std::string> gemma_call_grammar(const ojson& tools, bool parallel, const std::string& only) {
    auto alt = per_tool_alternatives(tools, only, jsonschema::Notation::Gemma, false, "");
    if (!alt) return alt.error();
    std::string gbnf = alt->first;
    gbnf += "tc ::= \"<|tool_call>call:\" (" + alt->second + ") \"<tool_call|>\"\n";
    gbnf += parallel ? "root ::= tc+\n" : "root ::= tc\n";
    return gbnf;
}

// Harmony: one call per message, so `parallel` cannot apply. The header between the recipient
// and <|message|> in the template's form or the model's; before the recipient, what comes after
// the generation prompt (`<|start|>assistant`) when the call is forced.
Result<std::string> harmony_call_grammar(const ojson& tools, const std::string& only) {
    auto alt = per_tool_alternatives(tools, only, jsonschema::Notation::Json, true, "hhdr ");
    if (!alt) return alt.error();
    std::string gbnf = alt->first;
    // The call ends with <|call|>, an end-of-generation token: the grammar stops after the
    // arguments so that the sampler may end there, and the parser does not need the marker.
    gbnf += "root ::= hpre? \"to=functions.\" (" + alt->second + ")\n";
    gbnf += "hpre ::= \" \" | \"<|channel|>commentary \"\n";
    gbnf +=
        "hhdr ::= (\"<|channel|>commentary\" | \"<|channel|>commentary json\" | \"<|channel|>commentary "
        "<|constrain|>json\" | "
        "\" <|constrain|>json\" | \" json\")? \"<|message|>\"\n";
    return gbnf;
}

}  // namespace

Result<std::string> tool_call_grammar(ToolSyntax syntax, const ojson& tools, bool parallel, const std::string& only) {
    if (!tools.is_array() || tools.empty()) return Error{"'tools' must be a non-empty array"};
    const char* args_key = syntax == ToolSyntax::Llama3 ? "parameters" : "arguments";
    ojson any_of = ojson::array();
    for (const auto& t : tools) {
        if (!t.is_object() || !t.contains("function") || !t["function"].is_object() ||
            !t["function"].contains("name") || !t["function"]["name"].is_string()) {
            return Error{"every tool needs function.name"};
        }
        const std::string name = t["function"]["name"];
        if (!only.empty() && name != only) continue;
        ojson params = t["function"].value("parameters", ojson{{"type", "object"}});
        if (params.is_object() && params.empty()) params = {{"type", "object"}};
        any_of.push_back({{"type", "object"},
                          {"properties", {{"name", {{"const", name}}}, {args_key, params}}},
                          {"required", {"name", args_key}},
                          {"additionalProperties", false}});
    }
    if (any_of.empty()) return Error{"tool_choice names '" + only + "', which is not among the tools"};
    if (syntax == ToolSyntax::Gemma) return gemma_call_grammar(tools, parallel, only);
    if (syntax == ToolSyntax::Harmony) return harmony_call_grammar(tools, only);
    ojson call = any_of.size() == 1 ? any_of[0] : ojson{{"anyOf", any_of}};
    jsonschema::GrammarOptions o;
    o.flexible_whitespace = false;
    o.ignore_unsupported = false;  // never drop a parameter keyword silently (OutputContract names it)
    auto g = jsonschema::schema_to_gbnf(call, o);
    if (!g) return g.error();
    // The call object is the schema grammar's root; wrap it in the family's syntax.
    std::string gbnf = *g;
    const size_t at = gbnf.find("root ::= ");
    if (at == std::string::npos) return Error{"internal: no root rule"};
    gbnf.replace(at, 9, "call ::= ");
    switch (syntax) {
        case ToolSyntax::Hermes:
            gbnf += parallel ? "root ::= tc (\"\\n\" tc)*\n" : "root ::= tc\n";
            gbnf += "tc ::= \"<tool_call>\\n\" call \"\\n</tool_call>\"\n";
            break;
        case ToolSyntax::Llama3:
            gbnf += parallel ? "root ::= call (\"; \" call)*\n" : "root ::= call\n";
            break;
        case ToolSyntax::Mistral:
            gbnf += parallel ? "root ::= \"[TOOL_CALLS][\" call (\", \" call)* \"]\"\n"
                             : "root ::= \"[TOOL_CALLS][\" call \"]\"\n";
            break;
        case ToolSyntax::Phi4:
            gbnf += parallel ? "root ::= \"functools[\" call (\", \" call)* \"]\"\n"
                             : "root ::= \"functools[\" call \"]\"\n";
            break;
        case ToolSyntax::Gemma:
        case ToolSyntax::Harmony:
            break;  // above
    }
    return gbnf;
}

namespace {

bool to_call(const ojson& j, const char* args_key, ToolCall& out) {
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
    out.name = j["name"];
    const char* key = j.contains(args_key) ? args_key : (j.contains("arguments") ? "arguments" : "parameters");
    out.arguments = j.contains(key) ? j[key] : ojson::object();
    if (out.arguments.is_string()) {
        auto parsed = ojson::parse(out.arguments.get<std::string>(), nullptr, false);
        if (!parsed.is_discarded()) out.arguments = parsed;
    }
    return out.arguments.is_object();
}

std::string trim(std::string s) {
    const size_t b = s.find_first_not_of(" \n\t\r");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \n\t\r") - b + 1);
}

}  // namespace

std::vector<std::string> tool_call_triggers(ToolSyntax syntax) {
    switch (syntax) {
        case ToolSyntax::Hermes:
            return {"<tool_call>"};
        case ToolSyntax::Llama3:
            return {"{\"name\":"};
        case ToolSyntax::Mistral:
            return {"[TOOL_CALLS]"};
        case ToolSyntax::Phi4:
            return {"functools["};
        case ToolSyntax::Gemma:
            return {"<|tool_call>"};
        case ToolSyntax::Harmony:
            return {"to=functions."};
    }
    return {};
}

void attach_tools(ToolSyntax syntax, chat::ChatRequest& request) {
    if (syntax != ToolSyntax::Phi4 || !request.tools || !request.messages.is_array()) return;
    ojson* system = nullptr;
    for (auto& m : request.messages) {
        if (m.is_object() && m.value("role", "") == "system") {
            system = &m;
            break;
        }
    }
    if (system == nullptr) {
        request.messages.insert(request.messages.begin(), ojson{{"role", "system"}, {"content", ""}});
        system = &request.messages[0];
    }
    if (!system->contains("tools")) (*system)["tools"] = request.tools->dump();
}

namespace {

constexpr std::string_view kMark = "<|\"|>";

struct GemmaReader {
    std::string_view t;
    size_t pos = 0;
    Error fail(const std::string& what) const {
        return Error{"gemma arguments: " + what + " at byte " + std::to_string(pos)};
    }
    Result<ojson> value(int depth) {
        if (depth > 64) return fail("nested deeper than 64 levels");
        if (t.substr(pos, kMark.size()) == kMark) {
            const size_t end = t.find(kMark, pos + kMark.size());
            if (end == std::string_view::npos) return fail("unterminated string");
            ojson s = std::string(t.substr(pos + kMark.size(), end - pos - kMark.size()));
            pos = end + kMark.size();
            return s;
        }
        if (pos < t.size() && (t[pos] == '{' || t[pos] == '[')) {
            const bool object = t[pos] == '{';
            const char close = object ? '}' : ']';
            ojson out = object ? ojson::object() : ojson::array();
            ++pos;
            if (pos < t.size() && t[pos] == close) {
                ++pos;
                return out;
            }
            while (true) {
                std::string key;
                if (object) {
                    if (t.substr(pos, kMark.size()) == kMark) {
                        auto k = value(depth + 1);
                        if (!k) return k.error();
                        key = k->get<std::string>();
                    } else {
                        const size_t colon = t.find(':', pos);
                        if (colon == std::string_view::npos || colon == pos) return fail("expected a key");
                        key = std::string(t.substr(pos, colon - pos));
                        pos = colon;
                    }
                    if (pos >= t.size() || t[pos] != ':') return fail("expected ':'");
                    ++pos;
                }
                auto v = value(depth + 1);
                if (!v) return v.error();
                if (object)
                    out[key] = std::move(*v);
                else
                    out.push_back(std::move(*v));
                if (pos < t.size() && t[pos] == ',') {
                    ++pos;
                    continue;
                }
                if (pos < t.size() && t[pos] == close) {
                    ++pos;
                    return out;
                }
                return fail(std::string("expected ',' or '") + close + "'");
            }
        }
        for (const auto& [word, v] : {std::pair<std::string_view, ojson>{"true", true},
                                      {"false", false},
                                      {"null", nullptr},
                                      {"None", nullptr}}) {
            if (t.substr(pos, word.size()) == word) {
                pos += word.size();
                return v;
            }
        }
        size_t end = pos;
        while (end < t.size() && std::strchr("+-0123456789.eE", t[end]) != nullptr && t[end] != '\0') ++end;
        if (end == pos) return fail("expected a value");
        auto n = ojson::parse(t.substr(pos, end - pos), nullptr, false);
        if (n.is_discarded() || !n.is_number()) return fail("malformed number");
        pos = end;
        return n;
    }
};

}  // namespace

Result<ojson> parse_gemma_value(std::string_view text) {
    GemmaReader r{text};
    auto v = r.value(0);
    if (!v) return v.error();
    if (r.pos != text.size()) return r.fail("unexpected text after the value");
    return v;
}

namespace {

// Harmony: every `to=functions.NAME … <|message|>ARGS` up to <|call|> (or the end) is a call; the
// answer is the final channel's message when there is one, else what is left once the calls and
// the analysis channel (reasoning, not answer) are taken out.
ParsedAnswer parse_harmony(const std::string& text) {
    ParsedAnswer a;
    constexpr std::string_view kTo = "to=functions.", kMessage = "<|message|>", kCall = "<|call|>";
    bool malformed = false;
    for (size_t pos = text.find(kTo); pos != std::string::npos; pos = text.find(kTo, pos)) {
        const size_t name_begin = pos + kTo.size();
        size_t name_end = name_begin;
        while (name_end < text.size() && text[name_end] != ' ' && text[name_end] != '<') ++name_end;
        const size_t msg = text.find(kMessage, name_end);
        if (msg == std::string::npos) {
            malformed = true;
            break;
        }
        const size_t args_begin = msg + kMessage.size();
        const size_t call = text.find(kCall, args_begin);
        const size_t args_end = call == std::string::npos ? text.size() : call;
        const auto j = ojson::parse(text.substr(args_begin, args_end - args_begin), nullptr, false);
        if (j.is_discarded() || !j.is_object() || name_end == name_begin) {
            malformed = true;
            break;
        }
        a.calls.push_back({text.substr(name_begin, name_end - name_begin), j});
        pos = call == std::string::npos ? text.size() : call + kCall.size();
    }
    if (malformed) a.calls.clear();
    constexpr std::string_view kAnalysis = "<|channel|>analysis<|message|>";
    for (size_t at = text.find(kAnalysis); at != std::string::npos; at = text.find(kAnalysis, at + 1)) {
        const size_t from = at + kAnalysis.size();
        const size_t end = std::min(text.find("<|end|>", from), text.find("<|start|>", from));
        a.reasoning += (a.reasoning.empty() ? "" : "\n") +
                       text.substr(from, end == std::string::npos ? std::string::npos : end - from);
    }
    constexpr std::string_view kFinal = "<|channel|>final<|message|>";
    if (const size_t f = text.rfind(kFinal); f != std::string::npos) {
        std::string body = text.substr(f + kFinal.size());
        for (std::string_view end : {"<|return|>", "<|end|>"}) {
            if (const size_t e = body.find(end); e != std::string::npos) body.resize(e);
        }
        a.content = body;
    } else if (a.calls.empty()) {
        a.content = text;  // not harmony-structured (or a malformed call: it stays text)
    }
    return a;
}

}  // namespace

ParsedAnswer parse_tool_calls(ToolSyntax syntax, const std::string& text) {
    ParsedAnswer a;
    if (syntax == ToolSyntax::Harmony) {
        a = parse_harmony(text);
    } else if (syntax == ToolSyntax::Gemma) {
        constexpr std::string_view open_mark = "<|tool_call>call:", close_mark = "<tool_call|>";
        size_t pos = 0;
        while (true) {
            const size_t open = text.find(open_mark, pos);
            const size_t close = open == std::string::npos ? open : text.find(close_mark, open);
            if (close == std::string::npos) {
                a.content += text.substr(pos);
                break;
            }
            const std::string body = text.substr(open + open_mark.size(), close - open - open_mark.size());
            const size_t brace = body.find('{');
            ToolCall c;
            bool ok = brace != std::string::npos && brace > 0;
            if (ok) {
                auto args = parse_gemma_value(std::string_view(body).substr(brace));
                ok = args.ok() && args->is_object();
                if (ok) c = {body.substr(0, brace), std::move(*args)};
            }
            if (ok) {
                a.content += text.substr(pos, open - pos);
                a.calls.push_back(std::move(c));
            } else {
                a.content += text.substr(pos, close + close_mark.size() - pos);
            }
            pos = close + close_mark.size();
        }
    } else if (syntax == ToolSyntax::Hermes) {
        size_t pos = 0;
        while (true) {
            const size_t open = text.find("<tool_call>", pos);
            if (open == std::string::npos) {
                a.content += text.substr(pos);
                break;
            }
            const size_t close = text.find("</tool_call>", open);
            if (close == std::string::npos) {
                a.content += text.substr(pos);
                break;
            }
            ToolCall c;
            const auto j = ojson::parse(text.substr(open + 11, close - open - 11), nullptr, false);
            if (!j.is_discarded() && to_call(j, "arguments", c)) {
                a.content += text.substr(pos, open - pos);
                a.calls.push_back(std::move(c));
            } else {
                a.content += text.substr(pos, close + 12 - pos);
            }
            pos = close + 12;
        }
    } else if (syntax == ToolSyntax::Mistral || syntax == ToolSyntax::Phi4) {
        // Both: a marker, then a JSON array of calls (Phi-4's marker ends with the array's "[").
        const std::string marker = syntax == ToolSyntax::Mistral ? "[TOOL_CALLS]" : "functools";
        const size_t at = text.find(marker);
        if (at != std::string::npos) {
            const auto j = ojson::parse(trim(text.substr(at + marker.size())), nullptr, false);
            if (j.is_array()) {
                for (const auto& e : j) {
                    ToolCall c;
                    if (to_call(e, "arguments", c)) a.calls.push_back(std::move(c));
                }
            }
            a.content = text.substr(0, at);
            if (a.calls.empty()) a.content = text;
        } else {
            a.content = text;
        }
    } else {
        std::string body = trim(text);
        if (body.rfind("<|python_tag|>", 0) == 0) body = trim(body.substr(14));
        size_t start = 0;
        while (start < body.size()) {
            size_t end = body.find("; {", start);
            const std::string piece = body.substr(start, end == std::string::npos ? std::string::npos : end - start);
            ToolCall c;
            const auto j = ojson::parse(piece, nullptr, false);
            if (j.is_discarded() || !to_call(j, "parameters", c)) {
                a.calls.clear();
                break;
            }
            a.calls.push_back(std::move(c));
            if (end == std::string::npos) break;
            start = end + 2;
        }
        if (a.calls.empty()) a.content = text;
    }
    a.content = trim(a.content);
    return a;
}

}  // namespace tf::engine
