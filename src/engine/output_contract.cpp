#include "engine/output_contract.h"

#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/lazy_constraint.h"
#include "sampling/grammar/matcher.h"

namespace tf::engine {

using ojson = nlohmann::ordered_json;

namespace {

std::string where(const std::string& pointer) {
    return pointer.empty() ? std::string("/") : pointer;
}

// The schema's grammar and gaps under `options`; strict refuses any gap.
Result<std::string> compile_schema(const ojson& schema, const ContractOptions& options,
                                   std::vector<jsonschema::SchemaGap>& gaps,
                                   jsonschema::Notation notation = jsonschema::Notation::Json) {
    jsonschema::GrammarOptions o;
    o.notation = notation;
    o.flexible_whitespace = options.flexible_whitespace;
    o.open_objects = options.open_objects;
    o.ignore_unsupported = options.ignore_unsupported && !options.strict;
    o.warn = options.warn;
    o.gap = [&](const jsonschema::SchemaGap& g) { gaps.push_back(g); };
    auto text = jsonschema::schema_to_gbnf(schema, o);
    if (!text) return text.error();
    if (options.strict && !gaps.empty()) {
        const auto& g = gaps.front();
        return Error{"strict schema: keyword '" + g.keyword + "' at " + where(g.pointer) +
                     " cannot be guaranteed while decoding (" + g.why +
                     "); drop strict to have it checked after generation"};
    }
    return text;
}

Result<std::shared_ptr<grammar::MaskCache>> compile_masks(const std::string& gbnf, const Vocabulary& vocab) {
    auto g = grammar::parse_gbnf(gbnf);
    if (!g) return g.error();
    auto masks = std::make_shared<grammar::MaskCache>(std::make_shared<const grammar::Grammar>(std::move(g.value())),
                                                      vocab.trie);
    // Classifying the expensive stack tops now keeps that work (tens of ms on a 128k
    // vocabulary) off the decode steps, where it would compete with the model for the cores.
    masks->precompute();
    return masks;
}

Result<std::shared_ptr<const jsonschema::Validator>> compile_validator(const ojson& schema) {
    jsonschema::ValidatorOptions vo;
    vo.assert_formats = true;  // a date must be a date: format is held to, not annotated
    auto v = jsonschema::Validator::compile(schema, vo);
    if (!v) return v.error();
    return std::make_shared<const jsonschema::Validator>(std::move(v.value()));
}

}  // namespace

std::string describe(const jsonschema::ValidationError& e) {
    return where(e.instance_path) + " " + e.keyword + ": " + e.message;
}

Result<std::shared_ptr<const OutputContract>> OutputContract::json_schema(const ojson& schema,
                                                                          const ContractOptions& options,
                                                                          const Vocabulary& vocab) {
    auto c = std::make_shared<OutputContract>();
    c->kind_ = Kind::JsonSchema;
    auto text = compile_schema(schema, options, c->gaps_);
    if (!text) return text.error();
    auto validator = compile_validator(schema);
    if (!validator) return validator.error();
    if (Status st = c->set_grammar(std::move(text.value()), vocab); !st) return st.error();
    c->validator_ = std::move(validator.value());
    return std::shared_ptr<const OutputContract>(std::move(c));
}

Result<std::shared_ptr<const OutputContract>> OutputContract::gbnf(const std::string& text, const Vocabulary& vocab) {
    auto c = std::make_shared<OutputContract>();
    c->kind_ = Kind::Grammar;
    if (Status st = c->set_grammar(text, vocab); !st) return st.error();
    return std::shared_ptr<const OutputContract>(std::move(c));
}

Result<std::shared_ptr<const OutputContract>> OutputContract::tools(const ojson& tools, const ToolChoice& choice,
                                                                    const ContractOptions& options,
                                                                    const Vocabulary& vocab) {
    if (!tools.is_array() || tools.empty()) return Error{"'tools' must be a non-empty array"};
    auto c = std::make_shared<OutputContract>();
    c->kind_ = Kind::Tools;
    c->choice_ = choice;
    for (const auto& t : tools) {
        if (!t.is_object() || !t.contains("function") || !t["function"].is_object() ||
            !t["function"].contains("name") || !t["function"]["name"].is_string()) {
            return Error{"every tool needs function.name"};
        }
        const std::string name = t["function"]["name"];
        ojson params = t["function"].value("parameters", ojson{{"type", "object"}});
        if (params.is_object() && params.empty()) params = {{"type", "object"}};
        // Each tool's parameters alone first, so that an error or a gap names the tool and a
        // pointer into its own parameters.
        ContractOptions per_tool = options;
        per_tool.strict = options.strict || t["function"].value("strict", ojson(false)) == true;
        per_tool.ignore_unsupported = false;  // a tool's arguments are never let through unchecked
        per_tool.warn = options.warn
                            ? [&options, name](const std::string& w) { options.warn("tool '" + name + "': " + w); }
                            : std::function<void(const std::string&)>();
        std::vector<jsonschema::SchemaGap> gaps;
        const auto notation =
            choice.syntax == ToolSyntax::Gemma ? jsonschema::Notation::Gemma : jsonschema::Notation::Json;
        auto text = compile_schema(params, per_tool, gaps, notation);
        if (!text) return Error{"tool '" + name + "': " + text.error().message};
        for (auto& g : gaps) {
            g.pointer = "/tools/" + name + "/parameters" + g.pointer;
            c->gaps_.push_back(std::move(g));
        }
        auto validator = compile_validator(params);
        if (!validator) return Error{"tool '" + name + "': " + validator.error().message};
        c->tools_.emplace_back(name, std::move(validator.value()));
    }
    auto text = tool_call_grammar(choice.syntax, tools, choice.parallel && choice.only.empty(), choice.only);
    if (!text) return text.error();
    if (Status st = c->set_grammar(std::move(text.value()), vocab); !st) return st.error();
    return std::shared_ptr<const OutputContract>(std::move(c));
}

Status OutputContract::set_grammar(std::string text, const Vocabulary& vocab) {
    auto masks = compile_masks(text, vocab);
    if (!masks) return masks.error();
    gbnf_ = std::move(text);
    masks_ = std::move(masks.value());
    eog_ = vocab.eog;
    return Status::success();
}

std::shared_ptr<sampling::Constraint> OutputContract::constraint() const {
    auto g = std::make_shared<grammar::GrammarConstraint>(masks_, eog_);
    if (kind_ == Kind::Tools && !choice_.forced) {
        return std::make_shared<grammar::LazyConstraint>(std::move(g), masks_->trie(),
                                                         tool_call_triggers(choice_.syntax));
    }
    return g;
}

std::vector<jsonschema::ValidationError> OutputContract::check(std::string_view answer) const {
    switch (kind_) {
        case Kind::Grammar: {
            grammar::Matcher m(masks_->grammar());
            if (!m.accept(answer)) return {{"", "grammar", "the answer does not follow the grammar"}};
            if (!m.can_end()) return {{"", "grammar", "the answer stops before the grammar is complete"}};
            return {};
        }
        case Kind::JsonSchema: {
            const ojson doc = ojson::parse(answer, nullptr, false);
            if (doc.is_discarded()) return {{"", "json", "the answer is not complete JSON"}};
            return validator_->validate(doc);
        }
        case Kind::Tools: {
            const ParsedAnswer parsed = parse_tool_calls(choice_.syntax, std::string(answer));
            std::vector<jsonschema::ValidationError> out;
            if (choice_.forced && parsed.calls.empty())
                out.push_back({"", "tool_calls", "the answer has no tool call"});
            if (!choice_.forced) {
                for (const auto& trigger : tool_call_triggers(choice_.syntax)) {
                    if (parsed.content.find(trigger) != std::string::npos) {
                        out.push_back({"", "tool_calls",
                                       "the answer starts a tool call ('" + trigger + "') that is not well formed"});
                        break;
                    }
                }
            }
            for (size_t i = 0; i < parsed.calls.size(); ++i) {
                const std::string at = "/tool_calls/" + std::to_string(i);
                const auto& call = parsed.calls[i];
                const auto tool =
                    std::find_if(tools_.begin(), tools_.end(), [&](const auto& t) { return t.first == call.name; });
                if (tool == tools_.end() || (!choice_.only.empty() && call.name != choice_.only)) {
                    out.push_back({at + "/name", "enum", "'" + call.name + "' is not a tool offered"});
                    continue;
                }
                for (auto e : tool->second->validate(call.arguments)) {
                    e.instance_path = at + "/arguments" + e.instance_path;
                    out.push_back(std::move(e));
                }
            }
            return out;
        }
    }
    return {};
}

}  // namespace tf::engine
