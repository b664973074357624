// The privacy guard's detectors: check digits on published examples, the scanner on snippets,
// and precision and recall per type on the labelled corpus (tests/router/data, built by
// scripts/privacy_corpus.py with check digits computed apart from the product's code).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "router/identifiers.h"
#include "router/privacy_scan.h"

namespace {

using namespace tf::router;

TEST(Identifiers, published_examples_and_one_wrong_digit) {
    EXPECT_TRUE(valid_iban("GB82 WEST 1234 5698 7654 32"));
    EXPECT_TRUE(valid_iban("DE89370400440532013000"));
    EXPECT_FALSE(valid_iban("DE89370400440532013001"));
    EXPECT_FALSE(valid_iban("DE8937040044053201300"));  // one digit short for Germany
    EXPECT_TRUE(valid_card_number("4111 1111 1111 1111"));
    EXPECT_TRUE(valid_card_number("3400-0000-0000-009"));
    EXPECT_FALSE(valid_card_number("4111 1111 1111 1112"));
    EXPECT_FALSE(valid_card_number("9111111111111111"));  // no card network starts with 9
    EXPECT_TRUE(valid_codice_fiscale("RSSMRA85T10A562S"));
    EXPECT_FALSE(valid_codice_fiscale("RSSMRA85T10A562T"));
    EXPECT_TRUE(valid_partita_iva("IT00743110157"));
    EXPECT_FALSE(valid_partita_iva("00743110158"));
    EXPECT_TRUE(valid_dni("12345678Z"));
    EXPECT_FALSE(valid_dni("12345678A"));
    EXPECT_TRUE(valid_nie("X1234567L"));
    EXPECT_FALSE(valid_nie("X1234567A"));
    EXPECT_TRUE(valid_nir("2 55 08 2A 004 017 78"));  // Corsica: 2A counts as 19
    EXPECT_FALSE(valid_nir("2 55 08 2A 004 017 77"));
    EXPECT_TRUE(valid_steuer_id("86095742719"));
    EXPECT_FALSE(valid_steuer_id("86095742710"));
    EXPECT_TRUE(valid_ssn("123-45-6789"));
    EXPECT_FALSE(valid_ssn("666-45-6789"));
    EXPECT_FALSE(valid_ssn("123-00-6789"));
}

TEST(PrivacyScan, finds_each_kind_at_its_byte_range) {
    auto s = PrivacyScanner::create({});
    ASSERT_TRUE(s.ok()) << s.error().message;
    const std::string text =
        "Gentile cliente (è importante): IBAN IT60 X054 2811 1010 0000 0123 456, scrivere a mario.rossi@example.it "
        "o chiamare il +39 02 1234 5678. Nato il 12/03/1985. Fattura n. 20240000123 del 12/03/2024.";
    const auto f = s->scan(text);
    std::map<std::string, std::string> found;
    for (const auto& x : f) found[x.type] = text.substr(x.begin, x.end - x.begin);
    EXPECT_EQ(found["iban"], "IT60 X054 2811 1010 0000 0123 456");
    EXPECT_EQ(found["email"], "mario.rossi@example.it");
    EXPECT_EQ(found["phone"], "+39 02 1234 5678");
    EXPECT_EQ(found["date_of_birth"], "12/03/1985");
    EXPECT_EQ(f.size(), 4u) << "the invoice number and the invoice date are not personal data";
}

TEST(PrivacyScan, a_stray_invalid_byte_does_not_hide_the_rest) {
    ScanOptions o;
    o.patterns = {{"ticket", "TCK-\\d{4}"}};
    auto s = PrivacyScanner::create(o);
    ASSERT_TRUE(s.ok());
    const std::string text = "Caf\xE9 \xFF\xFE TCK-1234, nato il 12/03/1985, IBAN DE89370400440532013000.";
    std::vector<std::string> types;
    for (const auto& f : s->scan(text)) types.push_back(f.type + "=" + text.substr(f.begin, f.end - f.begin));
    EXPECT_EQ(types,
              (std::vector<std::string>{"ticket=TCK-1234", "date_of_birth=12/03/1985", "iban=DE89370400440532013000"}));
}

TEST(PrivacyScan, user_patterns_and_dictionaries) {
    ScanOptions o;
    o.patterns = {{"employee_id", "\\bEMP-\\d{6}\\b"}};
    o.dictionaries = {{"project", {"Falcon", "Blue Harbor"}}};
    auto s = PrivacyScanner::create(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    const std::string text = "EMP-004217 works on blue harbor, not on Falconry.";
    const auto f = s->scan(text);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].type, "employee_id");
    EXPECT_EQ(text.substr(f[1].begin, f[1].end - f[1].begin), "blue harbor");
    o.patterns = {{"broken", "(unclosed"}};
    auto bad = PrivacyScanner::create(o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("pattern 'broken'"), std::string::npos) << bad.error().message;
}

TEST(PrivacyScan, precision_and_recall_on_the_labelled_corpus) {
    const auto path = std::filesystem::path(TF_SOURCE_DIR) / "tests/router/data/privacy_corpus.jsonl";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    auto s = PrivacyScanner::create({});
    ASSERT_TRUE(s.ok());
    struct Count {
        int tp = 0, fp = 0, fn = 0;
    };
    std::map<std::string, Count> by_type;
    std::map<std::string, int> snippets_by_lang;
    std::string line;
    int snippets = 0;
    while (std::getline(in, line)) {
        const auto row = nlohmann::json::parse(line);
        const std::string text = row["text"];
        ++snippets;
        ++snippets_by_lang[row["lang"]];
        std::multimap<std::string, std::string> want;
        for (const auto& sp : row["spans"]) want.emplace(sp["type"], sp["text"]);
        for (const auto& f : s->scan(text)) {
            const std::string got = text.substr(f.begin, f.end - f.begin);
            auto range = want.equal_range(f.type);
            auto hit = std::find_if(range.first, range.second, [&](const auto& kv) { return kv.second == got; });
            if (hit != range.second) {
                ++by_type[f.type].tp;
                want.erase(hit);
            } else {
                ++by_type[f.type].fp;
                std::printf("false %s '%s' in: %s\n", f.type.c_str(), got.c_str(), text.c_str());
            }
        }
        for (const auto& [type, value] : want) {
            ++by_type[type].fn;
            std::printf("missed %s '%s' in: %s\n", type.c_str(), value.c_str(), text.c_str());
        }
    }
    EXPECT_GE(snippets, 500);
    for (const char* lang : {"it", "en", "de", "fr", "es"}) {
        EXPECT_GE(snippets_by_lang[lang], 100) << lang;
    }
    std::printf("%-18s %5s %5s %5s %9s %7s\n", "type", "tp", "fp", "fn", "precision", "recall");
    for (const auto& [type, c] : by_type) {
        const double p = c.tp + c.fp ? double(c.tp) / (c.tp + c.fp) : 1.0;
        const double r = c.tp + c.fn ? double(c.tp) / (c.tp + c.fn) : 1.0;
        std::printf("%-18s %5d %5d %5d %9.3f %7.3f\n", type.c_str(), c.tp, c.fp, c.fn, p, r);
        // Identifiers with check digits: recall 0.99 (the bar); the others 0.95. Precision
        // 0.95 for every type, on a corpus where a third of the snippets are look-alikes.
        const bool checksummed = type != "phone" && type != "email" && type != "date_of_birth";
        EXPECT_GE(r, checksummed ? 0.99 : 0.95) << type;
        EXPECT_GE(p, 0.95) << type;
    }
}

}  // namespace
