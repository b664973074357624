// `terraferma privacy scan|redact`: the guard on a user's own text, from files or stdin.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/run.h"

namespace {

using tf::test::run_terraferma;

const char* kText =
    "Cliente: Mario Rossi, nato il 12/03/1985.\nIBAN IT60 X054 2811 1010 0000 0123 456\n"
    "mail mario.rossi@example.it, tel. +39 02 1234 5678\nTicket TCK-4411, fattura 20240000123\n";

TEST(PrivacyE2E, scan_lists_types_and_lines_without_the_values) {
    const auto file = std::filesystem::temp_directory_path() / "tf-privacy-e2e.txt";
    std::ofstream(file) << kText;
    auto r = run_terraferma({"privacy", "scan", "--json", "--pattern", "ticket=TCK-\\d+", file.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::pair<std::string, int>> got;
    std::istringstream lines(r.out);
    for (std::string l; std::getline(lines, l);) {
        const auto j = nlohmann::json::parse(l);
        got.emplace_back(j["type"], j["line"]);
        const std::string value =
            std::string(kText).substr(j["begin"].get<size_t>(), j["end"].get<size_t>() - j["begin"].get<size_t>());
        EXPECT_EQ(r.out.find(value), std::string::npos) << "the output shows " << value;
    }
    EXPECT_EQ(got, (std::vector<std::pair<std::string, int>>{
                       {"date_of_birth", 1}, {"iban", 2}, {"email", 3}, {"phone", 3}, {"ticket", 4}}));
    std::filesystem::remove(file);
}

TEST(PrivacyE2E, redact_prints_what_would_leave_and_counts_on_stderr) {
    auto r = run_terraferma({"privacy", "redact"}, kText);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(
        r.out,
        "Cliente: Mario Rossi, nato il [[DATE_OF_BIRTH_1]].\nIBAN [[IBAN_1]]\nmail [[EMAIL_1]], tel. [[PHONE_1]]\n"
        "Ticket TCK-4411, fattura 20240000123\n");
    EXPECT_NE(r.err.find("redacted date_of_birth 1, email 1, iban 1, phone 1"), std::string::npos) << r.err;
}

TEST(PrivacyE2E, a_bad_pattern_is_named) {
    auto r = run_terraferma({"privacy", "scan", "--pattern", "x=(open"}, "text");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("pattern 'x'"), std::string::npos) << r.err;
    auto h = run_terraferma({"privacy", "scan", "--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("--pattern"), std::string::npos);
}

}  // namespace
