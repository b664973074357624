// The masks MaskCache builds from stack tops (each stack's top entries classified once, the
// uncertain tokens checked against the whole state) are the masks of a whole-vocabulary walk,
// bit for bit: on real-world schemas (a document replayed, with a random detour at every step)
// and on peer GBNF grammars (random walks), with and without tops classified ahead of time. The
// walk over StateTable is itself checked against the plain matcher every few steps.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "sampling/grammar/gbnf.h"
#include "sampling/grammar/token_mask.h"
#include "sampling/jsonschema/to_grammar.h"
#include "support/reference.h"
#include "support/reference_model.h"

namespace {

using tf::grammar::Grammar;
using tf::grammar::MaskCache;
using tf::grammar::StateTable;
using tf::grammar::TokenTrie;

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool has(const std::vector<uint64_t>& bits, int32_t id) { return (bits[static_cast<size_t>(id) / 64] >> (id % 64)) & 1; }

int32_t advance(StateTable& t, int32_t s, const std::string& text) {
    for (char c : text) {
        if (s < 0) break;
        s = t.next(s, static_cast<uint8_t>(c));
    }
    return s;
}

struct Walker {
    std::shared_ptr<const Grammar> g;
    std::shared_ptr<const TokenTrie> trie;
    std::shared_ptr<MaskCache> cache;
    StateTable tops_table, walk_table;
    int32_t a = 0, b = 0;  // the same state in both tables
    size_t steps = 0, oracle_checks = 0;

    Walker(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> t, bool precompute)
        : g(std::move(grammar)), trie(std::move(t)), cache(std::make_shared<MaskCache>(g, trie)), tops_table(*g), walk_table(*g) {
        if (precompute) cache->precompute();
        a = tops_table.intern(tf::grammar::Matcher::initial(*g));
        b = walk_table.intern(tf::grammar::Matcher::initial(*g));
    }

    // Compares the masks at (sa, sb); returns them.
    std::vector<uint64_t> check(int32_t sa, int32_t sb, const std::string& where) {
        const auto mask = cache->mask(tops_table, sa);
        std::vector<uint64_t> walked;
        trie->allowed(walk_table, sb, walked);
        size_t differ = 0;
        for (size_t w = 0; w < walked.size(); ++w) differ += static_cast<size_t>(__builtin_popcountll((*mask)[w] ^ walked[w]));
        EXPECT_EQ(mask->size(), walked.size()) << where;
        EXPECT_EQ(differ, 0u) << where << ": tokens the masks from stack tops and the whole walk disagree on";
        if (steps++ % 8 == 0) {
            // The StateTable walk against the matcher itself.
            std::vector<uint8_t> plain;
            trie->allowed(*g, walk_table.full_state(sb), plain);
            size_t differ = 0;
            for (size_t id = 0; id < plain.size(); ++id) differ += (plain[id] != 0) != has(walked, static_cast<int32_t>(id));
            EXPECT_EQ(differ, 0u) << where << ": tokens the state table's walk and the matcher disagree on";
            ++oracle_checks;
        }
        return walked;
    }

    // One step: check here, check after a random allowed token, then take `next` (or a random
    // allowed token when next < 0). False when nothing is allowed.
    bool step(int32_t next, std::mt19937& rng, const std::string& where) {
        const auto bits = check(a, b, where);
        std::vector<int32_t> allowed;
        for (size_t id = 0; id < trie->n_tokens(); ++id) {
            if (has(bits, static_cast<int32_t>(id))) allowed.push_back(static_cast<int32_t>(id));
        }
        if (allowed.empty()) return false;
        const int32_t detour = allowed[rng() % allowed.size()];
        const int32_t da = advance(tops_table, a, trie->text(detour)), db = advance(walk_table, b, trie->text(detour));
        EXPECT_GE(da, 0) << where;
        if (da >= 0 && db >= 0) check(da, db, where + " after a detour through token " + std::to_string(detour));
        const int32_t take = next >= 0 ? next : allowed[rng() % allowed.size()];
        a = advance(tops_table, a, trie->text(take));
        b = advance(walk_table, b, trie->text(take));
        EXPECT_GE(a, 0) << where << ": token " << take << " rejected";
        return a >= 0 && b >= 0;
    }
};

class MaskTops : public ::testing::Test {
  protected:
    void SetUp() override {
        TF_REQUIRE_REFERENCE();
        loaded_ = tf::test::load_reference_model("vocab-llama3-llama-Q8_0");
        ASSERT_TRUE(loaded_.tok);
        trie_ = std::make_shared<const TokenTrie>(*loaded_.tok);
    }
    tf::test::LoadedModel loaded_;
    std::shared_ptr<const TokenTrie> trie_;
};

// A string with maxLength (a chain of counted copies), a pattern, a format, enums, nested arrays.
TEST_F(MaskTops, equal_the_whole_vocabulary_walk_on_real_world_schemas) {
    const auto dir = std::filesystem::path(TF_SOURCE_DIR) / "bench" / "schemas";
    for (const char* name : {"invoice", "k8s_pod", "openai_tool_call", "flight_booking"}) {
        const auto j = nlohmann::ordered_json::parse(slurp(dir / (std::string(name) + ".json")));
        auto gbnf = tf::jsonschema::schema_to_gbnf(j["schema"]);
        ASSERT_TRUE(gbnf.ok()) << name;
        auto parsed = tf::grammar::parse_gbnf(*gbnf);
        ASSERT_TRUE(parsed.ok()) << name;
        auto g = std::make_shared<const Grammar>(std::move(parsed.value()));
        const auto ids = loaded_.tok->encode(j["instance"].dump(-1, ' ', false), false);
        for (bool precompute : {false, true}) {
            Walker w(g, trie_, precompute);
            std::mt19937 rng(7);
            for (size_t k = 0; k < ids.size(); ++k) {
                ASSERT_TRUE(w.step(ids[k], rng, std::string(name) + " step " + std::to_string(k) + (precompute ? " (tops ahead)" : "")));
                if (HasFailure()) return;
            }
            EXPECT_GT(w.oracle_checks, 5u);
        }
    }
}

// Counted copies of a bounded repetition share their chain head's top (MaskCache::top_key);
// random walks run each string to its maxLength, through the copies below the sharing
// threshold and the long tokens the head accepts but a copy may not. Strings with multi-byte
// and escaped characters, nested counts, a count that is not a string's.
TEST_F(MaskTops, equal_the_whole_vocabulary_walk_through_counted_copies) {
    const char* grammars[] = {
        R"(root ::= "\"" [^"\\]{0,60} "\"")",
        R"(root ::= "{\"a\":\"" ([^"\\\x00-\x1F] | "\\" ["\\nt]){3,45} "\",\"b\":" [0-9]{1,30} "}")",
        R"(root ::= ("<" [a-z ]{0,24} ">"){0,20} "." )",
        R"(root ::= [^x]{0,17} "x" | "y" [ -~]{16,40})",
    };
    for (const char* text : grammars) {
        auto parsed = tf::grammar::parse_gbnf(text);
        ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
        auto g = std::make_shared<const Grammar>(std::move(parsed.value()));
        size_t shared = 0;
        for (const auto& c : g->counted) shared += c.head != tf::grammar::Counted::kNone && c.count >= MaskCache::kMinSharedCount;
        EXPECT_GT(shared, 0u) << text;
        for (unsigned seed : {1u, 2u, 3u}) {
            Walker w(g, trie_, seed == 2);
            std::mt19937 rng(seed);
            for (int k = 0; k < 40; ++k) {
                if (!w.step(-1, rng, std::string(text) + " seed " + std::to_string(seed) + " step " + std::to_string(k))) break;
                if (HasFailure()) return;
            }
        }
    }
}

// Multi-byte characters (japanese), deep nesting (json), and a grammar with left-out context
// everywhere (c), by random walks.
TEST_F(MaskTops, equal_the_whole_vocabulary_walk_on_peer_grammars) {
    const auto dir = tf::test::shared_dir() / "peer-tests" / "gbnf";
    if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no peer tests at " << dir;
    for (const char* name : {"json.gbnf", "japanese.gbnf", "c.gbnf", "arithmetic.gbnf"}) {
        auto parsed = tf::grammar::parse_gbnf(slurp(dir / name));
        ASSERT_TRUE(parsed.ok()) << name;
        auto g = std::make_shared<const Grammar>(std::move(parsed.value()));
        Walker w(g, trie_, true);
        std::mt19937 rng(11);
        for (int k = 0; k < 24; ++k) {
            if (!w.step(-1, rng, std::string(name) + " step " + std::to_string(k))) break;
            if (HasFailure()) return;
        }
    }
}

}  // namespace
