// The GBNF engine against llama.cpp's grammar tests and example grammars
// (../shared/peer-tests/gbnf), and the token mask against a brute-force check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "model/model.h"
#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/lazy_constraint.h"
#include "sampling/grammar/matcher.h"
#include "sampling/grammar/token_mask.h"
#include "support/reference.h"
#include "support/reference_model.h"

namespace {

using tf::grammar::Grammar;
using tf::grammar::Matcher;

std::filesystem::path gbnf_dir() { return tf::test::shared_dir() / "peer-tests" / "gbnf"; }

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

#define TF_REQUIRE_GBNF()                                                                         \
    do {                                                                                          \
        if (!std::filesystem::exists(gbnf_dir())) GTEST_SKIP() << "no peer tests at " << gbnf_dir(); \
    } while (0)

bool matches(const std::shared_ptr<const Grammar>& g, const std::string& text) {
    Matcher m(g);
    return m.accept(text) && m.can_end();
}

TEST(Gbnf, every_example_grammar_parses) {
    TF_REQUIRE_GBNF();
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(gbnf_dir())) {
        if (e.path().extension() != ".gbnf") continue;
        auto g = tf::grammar::parse_gbnf(slurp(e.path()));
        EXPECT_TRUE(g.ok()) << e.path() << ": " << g.error().message;
        ++n;
    }
    EXPECT_EQ(n, 8);
}

TEST(Gbnf, example_grammars_accept_and_reject) {
    TF_REQUIRE_GBNF();
    auto json = tf::grammar::parse_gbnf(slurp(gbnf_dir() / "json.gbnf"));
    ASSERT_TRUE(json.ok());
    auto g = std::make_shared<const Grammar>(std::move(json.value()));
    EXPECT_TRUE(matches(g, R"({"a": [1, 2.5, -3e4], "b": {"c": null, "d": "x\"y\u00e9"}})"));
    EXPECT_TRUE(matches(g, "{\"ünïcødé\": \"東京 🚀\"}"));
    EXPECT_FALSE(matches(g, R"({"a": [1, 2,]})"));
    EXPECT_FALSE(matches(g, R"({"a" 1})"));
    EXPECT_FALSE(matches(g, R"({"a": 1)"));  // a prefix is not a match
    EXPECT_FALSE(matches(g, "[1]"));          // root is an object
    auto arith = tf::grammar::parse_gbnf(slurp(gbnf_dir() / "arithmetic.gbnf"));
    ASSERT_TRUE(arith.ok());
}

TEST(Gbnf, llama_cpp_grammar_integration_cases) {
    TF_REQUIRE_GBNF();
    const auto j = nlohmann::json::parse(slurp(gbnf_dir() / "llamacpp-grammar-integration.json"));
    int cases = 0, strings = 0;
    for (const auto& c : j["cases"]) {
        if (c["kind"] != "grammar") continue;
        SCOPED_TRACE(c["name"].get<std::string>());
        auto parsed = tf::grammar::parse_gbnf(c["grammar"].get<std::string>());
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        auto g = std::make_shared<const Grammar>(std::move(parsed.value()));
        for (const auto& s : c["passing"]) EXPECT_TRUE(matches(g, s.get<std::string>())) << "should accept: " << s;
        for (const auto& s : c["failing"]) EXPECT_FALSE(matches(g, s.get<std::string>())) << "should reject: " << s;
        strings += static_cast<int>(c["passing"].size() + c["failing"].size());
        ++cases;
    }
    EXPECT_EQ(cases, 12);
    std::printf("[gbnf] %d grammar cases, %d strings\n", cases, strings);
    for (const auto& c : j["invalid_grammars"]) {
        auto g = tf::grammar::parse_gbnf(c["grammar"].get<std::string>());
        EXPECT_FALSE(g.ok()) << c["name"] << " should be refused: " << c["why"];
    }
}

TEST(Gbnf, llama_cpp_schema_grammars_parse) {
    TF_REQUIRE_GBNF();
    const auto cases = nlohmann::json::parse(slurp(gbnf_dir() / "llamacpp-json-schema-to-grammar.json"));
    int n = 0;
    for (const auto& c : cases) {
        if (c["expected_status"] != "success") continue;
        auto g = tf::grammar::parse_gbnf(c["expected_grammar"].get<std::string>());
        EXPECT_TRUE(g.ok()) << c["name"] << ": " << g.error().message;
        ++n;
    }
    EXPECT_GT(n, 70);
}

TEST(Gbnf, errors_name_the_place_and_limits_hold) {
    auto e = tf::grammar::parse_gbnf("root ::= \"a\" [b-a]");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("empty character range at line 1"), std::string::npos) << e.error().message;
    e = tf::grammar::parse_gbnf("root ::= \"a\n");
    ASSERT_FALSE(e.ok());
    e = tf::grammar::parse_gbnf("root ::= x{1000000}");
    ASSERT_FALSE(e.ok());
    e = tf::grammar::parse_gbnf("root ::= <[12]>");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("token references"), std::string::npos);
    // Nested repetition stays bounded and works.
    auto g = tf::grammar::parse_gbnf("root ::= (\"ab\"{2,3} \"c\"?){1,4}");
    ASSERT_TRUE(g.ok()) << g.error().message;
    auto gp = std::make_shared<const Grammar>(std::move(g.value()));
    EXPECT_TRUE(matches(gp, "ababcababab"));
    EXPECT_FALSE(matches(gp, "abc"));
}

// A bounded repetition's chain of copies is marked with its head and counts (what token masks
// share work by); a chain whose item can match nothing is not, nor are unbounded repetitions.
TEST(Gbnf, bounded_repetitions_mark_their_counted_copies) {
    auto g = tf::grammar::parse_gbnf("root ::= [a]{2,22} ([b]?){0,5} [c]* x{0,3}\nx ::= \"x\" | \"yz\"");
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_EQ(g->counted.size(), g->rules.size());
    std::map<uint32_t, std::vector<uint32_t>> chains;  // head -> counts of its copies
    for (size_t r = 0; r < g->rules.size(); ++r) {
        const tf::grammar::Counted c = g->counted[r];
        if (c.head == tf::grammar::Counted::kNone) continue;
        chains[c.head].push_back(c.count);
        EXPECT_EQ(g->rules[r].size(), 2u);  // item (next copy) | nothing
    }
    std::vector<std::vector<uint32_t>> counts;
    for (auto& [head, cs] : chains) {
        std::sort(cs.begin(), cs.end());
        EXPECT_EQ(g->counted[head].count, cs.back()) << "the head allows the most";
        counts.push_back(cs);
    }
    std::sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
    std::vector<uint32_t> twenty(20);
    std::iota(twenty.begin(), twenty.end(), 1u);
    // [b]? is a chain of one; ([b]?){0,5} repeats a nullable item and is not marked.
    ASSERT_EQ(counts.size(), 3u);
    EXPECT_EQ(counts[0], (std::vector<uint32_t>{1}));
    EXPECT_EQ(counts[1], (std::vector<uint32_t>{1, 2, 3}));
    EXPECT_EQ(counts[2], twenty);
}

// Left recursion hidden behind a rule that can match nothing (found by grammar_fuzz: the
// matcher's stacks grew without end) is refused; the tail-position cycles of nested
// repetition stay allowed.
TEST(Gbnf, left_recursion_through_rules_that_match_nothing_is_refused) {
    auto e = tf::grammar::parse_gbnf("root ::= (expr \"=\" ws term \"\\n\")+\nexpr ::= term ([-+*/] term)*\n"
                                     "term ::= ident | ws expr \")\" ws\nident ::= [a-z] [a-z0-9_]* ws\nws ::= [ \\t\\n]*\n");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("left-recursive"), std::string::npos) << e.error().message;
    e = tf::grammar::parse_gbnf("root ::= opt root2 \"x\"\nroot2 ::= opt root \"y\" | \"z\"\nopt ::= [a]?\n");
    EXPECT_FALSE(e.ok());
    for (const char* ok : {"root ::= ( [x]* )*", "root ::= ( [x]* \"y\"? )* \"z\"", "root ::= ws item (ws \",\" ws item)*\nitem ::= [a-z]+\nws ::= [ ]*"}) {
        auto g = tf::grammar::parse_gbnf(ok);
        EXPECT_TRUE(g.ok()) << ok << ": " << g.error().message;
    }
}

// The trie walk must allow exactly the tokens whose text the matcher accepts.
TEST(TokenMask, agrees_with_checking_every_token) {
    TF_REQUIRE_REFERENCE();
    TF_REQUIRE_GBNF();
    const auto loaded = tf::test::load_reference_model("vocab-llama3-llama-Q8_0");
    ASSERT_TRUE(loaded.tok);
    const tf::tok::Tokenizer* tok = loaded.tok.get();
    tf::grammar::TokenTrie trie(*tok);
    auto parsed = tf::grammar::parse_gbnf(slurp(gbnf_dir() / "json.gbnf"));
    ASSERT_TRUE(parsed.ok());
    auto g = std::make_shared<const Grammar>(std::move(parsed.value()));
    for (const char* prefix : {"", "{", "{\"na", "{\"name\": ", "{\"name\": \"L\\u00", "{\"x\": [1, 2.", "{\"é\xc3"}) {
        Matcher m(g);
        ASSERT_TRUE(m.accept(prefix)) << prefix;
        std::vector<uint8_t> mask;
        trie.allowed(*g, m.state(), mask);
        size_t allowed = 0;
        for (size_t id = 0; id < trie.n_tokens(); ++id) {
            const std::string& t = trie.text(static_cast<int32_t>(id));
            Matcher probe = m;
            const bool ok = !t.empty() && probe.accept(t);
            ASSERT_EQ(static_cast<bool>(mask[id]), ok) << "prefix '" << prefix << "' token " << id << " '" << t << "'";
            allowed += ok;
        }
        EXPECT_GT(allowed, 0u) << prefix;
    }
}

// Constraints sharing one grammar's mask cache mask exactly as a constraint of its own does,
// whatever order they run in, and the second one finds the first one's masks.
TEST(TokenMask, constraints_sharing_a_mask_cache_mask_alike) {
    TF_REQUIRE_REFERENCE();
    TF_REQUIRE_GBNF();
    const auto loaded = tf::test::load_reference_model("vocab-llama3-llama-Q8_0");
    ASSERT_TRUE(loaded.tok);
    const tf::tok::Tokenizer* tok = loaded.tok.get();
    auto trie = std::make_shared<const tf::grammar::TokenTrie>(*tok);
    auto parsed = tf::grammar::parse_gbnf(slurp(gbnf_dir() / "json.gbnf"));
    ASSERT_TRUE(parsed.ok());
    auto g = std::make_shared<const Grammar>(std::move(parsed.value()));
    auto cache = std::make_shared<tf::grammar::MaskCache>(g, trie);
    const auto ids = tok->encode(R"({"name": "Ada", "tags": ["x", "y"], "n": 12.5, "ok": true})", false);
    const int64_t V = static_cast<int64_t>(tok->vocab().size());
    std::vector<float> own(static_cast<size_t>(V)), shared1(static_cast<size_t>(V)), shared2(static_cast<size_t>(V));
    tf::grammar::GrammarConstraint alone(g, trie, tok->vocab().eog_tokens);
    tf::grammar::GrammarConstraint first(cache, tok->vocab().eog_tokens), second(cache, tok->vocab().eog_tokens);
    for (size_t k = 0; k < ids.size(); ++k) {
        std::fill(own.begin(), own.end(), 1.0f);
        std::fill(shared1.begin(), shared1.end(), 1.0f);
        std::fill(shared2.begin(), shared2.end(), 1.0f);
        alone.apply(own.data(), V);
        first.apply(shared1.data(), V);
        const size_t before = cache->size();
        second.apply(shared2.data(), V);
        EXPECT_EQ(cache->size(), before) << "the second constraint computed a mask the first had";
        ASSERT_EQ(own, shared1) << "step " << k;
        ASSERT_EQ(own, shared2) << "step " << k;
        ASSERT_FALSE(std::isinf(own[static_cast<size_t>(ids[k])])) << "step " << k;
        alone.accept(ids[k]);
        first.accept(ids[k]);
        second.accept(ids[k]);
    }
}

// tool_choice "auto": free text until the trigger, then the grammar from the trigger's first
// byte on — here a trigger split over several tokens and followed by the call in later tokens.
TEST(LazyConstraint, free_until_the_trigger_then_the_grammar_from_its_first_byte) {
    TF_REQUIRE_REFERENCE();
    const auto loaded = tf::test::load_reference_model("vocab-llama3-llama-Q8_0");
    ASSERT_TRUE(loaded.tok);
    const tf::tok::Tokenizer& tok = *loaded.tok;
    auto trie = std::make_shared<const tf::grammar::TokenTrie>(tok);
    auto parsed = tf::grammar::parse_gbnf("root ::= \"<call>\" [0-9]+ \"</call>\"\n");
    ASSERT_TRUE(parsed.ok());
    auto g = std::make_shared<const Grammar>(std::move(parsed.value()));
    auto inner = std::make_shared<tf::grammar::GrammarConstraint>(g, trie, tok.vocab().eog_tokens);
    tf::grammar::LazyConstraint lazy(inner, trie, {"<call>"});
    const int64_t V = static_cast<int64_t>(tok.vocab().size());
    std::vector<float> logits(static_cast<size_t>(V));
    auto allowed = [&](const std::string& text) {
        const auto ids = tok.encode(text, false);
        EXPECT_EQ(ids.size(), 1u) << text;
        return !std::isinf(logits[static_cast<size_t>(ids[0])]);
    };
    const auto before = tok.encode("Let me look that up. <ca", false);
    for (int32_t id : before) {
        std::fill(logits.begin(), logits.end(), 0.0f);
        lazy.apply(logits.data(), V);
        EXPECT_EQ(std::count_if(logits.begin(), logits.end(), [](float x) { return std::isinf(x); }), 0) << "free text is not constrained";
        lazy.accept(id);
    }
    EXPECT_FALSE(lazy.active());
    for (int32_t id : tok.encode("ll>12", false)) lazy.accept(id);
    ASSERT_TRUE(lazy.active()) << "the trigger straddled tokens";
    std::fill(logits.begin(), logits.end(), 0.0f);
    lazy.apply(logits.data(), V);
    EXPECT_TRUE(allowed("3"));
    EXPECT_FALSE(allowed(" hello"));
    EXPECT_FALSE(allowed("x"));
    for (int32_t id : tok.encode("</call>", false)) lazy.accept(id);
    EXPECT_TRUE(inner->can_end());

    // Text that merely resembles the trigger stays free.
    auto inner2 = std::make_shared<tf::grammar::GrammarConstraint>(g, trie, tok.vocab().eog_tokens);
    tf::grammar::LazyConstraint other(inner2, trie, {"<call>"});
    for (int32_t id : tok.encode("a <cal l> and <c all>", false)) other.accept(id);
    EXPECT_FALSE(other.active());
}

}  // namespace
