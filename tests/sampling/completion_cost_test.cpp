// Shortest completions of grammar states, in bytes: what finishing within the token limit
// budgets with. Checked against hand-counted answers and, on JSON Schema grammars, against the
// grammar itself (the shortest completion found by breadth-first search over bytes).
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>

#include "sampling/grammar/completion_cost.h"
#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/matcher.h"
#include "sampling/jsonschema/to_grammar.h"

namespace {

using tf::grammar::CompletionCost;
using tf::grammar::Grammar;
using tf::grammar::MatchState;
using tf::grammar::Matcher;

Grammar parse(const std::string& text) {
    auto g = tf::grammar::parse_gbnf(text);
    EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
    return g.ok() ? std::move(g.value()) : Grammar{};
}

uint32_t cost_after(const Grammar& g, const CompletionCost& cc, const std::string& text) {
    MatchState s = Matcher::initial(g), next;
    for (char c : text) {
        EXPECT_TRUE(Matcher::step(g, s, static_cast<uint8_t>(c), next)) << text;
        s = next;
    }
    if (s.need == 0) return cc.stacks(s.stacks);
    const uint32_t lo = s.partial << (6 * s.need);
    return cc.inside_char(s.stacks, lo, lo | ((1u << (6 * s.need)) - 1), s.need);
}

TEST(CompletionCost, counts_the_bytes_of_the_shortest_way_to_an_end) {
    const Grammar g = parse(R"G(root ::= "ab" word | "c"
word ::= [a-z]+ "." | "(" word ")")G");
    const CompletionCost cc(g);
    EXPECT_EQ(cc.rule(static_cast<uint32_t>(g.find("root"))), 1u);
    EXPECT_EQ(cc.rule(static_cast<uint32_t>(g.find("word"))), 2u);
    EXPECT_EQ(cost_after(g, cc, ""), 1u);
    EXPECT_EQ(cost_after(g, cc, "a"), 3u);   // b, a letter, the dot
    EXPECT_EQ(cost_after(g, cc, "ab"), 2u);
    EXPECT_EQ(cost_after(g, cc, "ab(("), 4u);  // x . ) )
    EXPECT_EQ(cost_after(g, cc, "abxyz"), 1u);
    EXPECT_EQ(cost_after(g, cc, "abx."), 0u);
    EXPECT_EQ(cost_after(g, cc, "c"), 0u);
}

TEST(CompletionCost, characters_cost_their_utf8_length) {
    const Grammar g = parse(R"(root ::= [é-ê] | "ü" "x"
other ::= [^\x00-\x7F] | [^a])");
    const CompletionCost cc(g);
    EXPECT_EQ(cost_after(g, cc, ""), 2u);
    EXPECT_EQ(cost_after(g, cc, "\xC3"), 1u);  // inside é (or ü): its last byte
    EXPECT_EQ(cost_after(g, cc, "\xC3\xBC"), 1u);
    EXPECT_EQ(cc.rule(static_cast<uint32_t>(g.find("other"))), 1u);  // [^a] has NUL

    const Grammar wide = parse(R"(root ::= [^\x00-\x7F] | [\U0001F600-\U0001F64F] "!")");
    EXPECT_EQ(CompletionCost(wide).rule(wide.root), 2u);
}

TEST(CompletionCost, a_rule_that_never_ends_costs_infinity) {
    const Grammar g = parse(R"(root ::= "a" | loop "b"
loop ::= "x" loop)");
    const CompletionCost cc(g);
    EXPECT_EQ(cc.rule(static_cast<uint32_t>(g.find("loop"))), CompletionCost::kInfinite);
    EXPECT_EQ(cc.rule(g.root), 1u);
    EXPECT_EQ(cost_after(g, cc, "x"), CompletionCost::kInfinite);
}

// The shortest completion by brute force: breadth-first over bytes from a state.
uint32_t shortest_by_search(const Grammar& g, const MatchState& from, uint32_t limit) {
    std::deque<std::pair<MatchState, uint32_t>> queue{{from, 0}};
    std::map<std::string, bool> seen;
    auto done = [](const MatchState& s) {
        return s.need == 0 && std::any_of(s.stacks.begin(), s.stacks.end(), [](const auto& st) { return st.empty(); });
    };
    while (!queue.empty()) {
        auto [s, d] = queue.front();
        queue.pop_front();
        if (done(s)) return d;
        if (d >= limit) continue;
        MatchState next;
        for (int b = 0; b < 256; ++b) {
            if (!Matcher::step(g, s, static_cast<uint8_t>(b), next)) continue;
            std::string key = std::to_string(next.partial) + "/" + std::to_string(next.need);
            for (const auto& st : next.stacks) {
                for (auto p : st) key += "," + std::to_string(p);
                key += ";";
            }
            if (seen.emplace(key, true).second) queue.push_back({next, d + 1});
        }
    }
    return CompletionCost::kInfinite;
}

uint32_t cost_of(const CompletionCost& cc, const MatchState& s) {
    if (s.need == 0) return cc.stacks(s.stacks);
    const uint32_t lo = s.partial << (6 * s.need);
    return cc.inside_char(s.stacks, lo, lo | ((1u << (6 * s.need)) - 1), s.need);
}

// Exact, by a local argument at every state of a document: no byte lowers the cost by more
// than one (so no completion is shorter: the cost is 0 exactly where the grammar may end), and
// unless the grammar may end, some byte lowers it by one (so a completion that short exists).
// Near the end, also against a breadth-first search.
TEST(CompletionCost, agrees_with_the_grammar_on_schema_grammars) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"type":"object","properties":{"id":{"type":"integer","minimum":100},"name":{"type":"string","minLength":3}},"required":["id","name"]})",
         R"({"id":123,"name":"abcd"})"},
        {R"({"type":"array","items":{"enum":["red","green"]},"minItems":2})", R"(["red","green","red"])"},
        {R"({"type":"object","properties":{"d":{"type":"string","format":"date"},"n":{"type":"number"}},"required":["d"]})",
         R"({"d":"2024-02-29","n":-1.5})"},
    };
    for (const auto& [schema, doc] : cases) {
        auto gbnf = tf::jsonschema::schema_to_gbnf(nlohmann::ordered_json::parse(schema));
        ASSERT_TRUE(gbnf.ok()) << schema;
        const Grammar g = parse(*gbnf);
        const CompletionCost cc(g);
        MatchState s = Matcher::initial(g), next;
        const std::string text = doc;
        for (size_t i = 0;; ++i) {
            const uint32_t c = cost_of(cc, s);
            ASSERT_LT(c, CompletionCost::kInfinite);
            bool lowered = c == 0;
            for (int b = 0; b < 256; ++b) {
                if (!Matcher::step(g, s, static_cast<uint8_t>(b), next)) continue;
                const uint32_t n = cost_of(cc, next);
                EXPECT_GE(n + 1, c) << schema << " after " << text.substr(0, i) << " byte " << b;
                lowered |= n + 1 == c;
            }
            EXPECT_TRUE(lowered) << schema << " after " << text.substr(0, i);
            const bool ends = s.need == 0 && std::any_of(s.stacks.begin(), s.stacks.end(), [](const auto& st) { return st.empty(); });
            EXPECT_EQ(c == 0, ends);
            if (c <= 4) {
                EXPECT_EQ(c, shortest_by_search(g, s, 8)) << schema << " after " << text.substr(0, i);
            }
            if (i == text.size()) break;
            ASSERT_TRUE(Matcher::step(g, s, static_cast<uint8_t>(text[i]), next)) << text.substr(0, i + 1);
            s = next;
        }
    }
}

}  // namespace
