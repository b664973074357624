// Reversible redaction: placeholders out, real values back — in whole answers, in streams split
// anywhere, and in tool-call arguments.
#include "router/redact.h"

#include <gtest/gtest.h>

#include "router/privacy_scan.h"

namespace {

using namespace tf::router;

TEST(Redact, the_same_value_gets_the_same_placeholder_across_a_request) {
    auto scanner = PrivacyScanner::create({});
    ASSERT_TRUE(scanner.ok());
    Vault v;
    const std::string m1 = "Pay IBAN DE89370400440532013000 and write to anna@example.com.";
    const std::string m2 = "Again: DE89370400440532013000, cc bob@example.org.";
    const std::string r1 = v.redact(m1, scanner->scan(m1), m1 + m2);
    const std::string r2 = v.redact(m2, scanner->scan(m2), m1 + m2);
    EXPECT_EQ(r1, "Pay IBAN [[IBAN_1]] and write to [[EMAIL_1]].");
    EXPECT_EQ(r2, "Again: [[IBAN_1]], cc [[EMAIL_2]].");
    EXPECT_EQ(v.counts(), (std::map<std::string, int>{{"email", 2}, {"iban", 1}}));
    EXPECT_EQ(v.restore(r1), m1);
    EXPECT_EQ(v.restore(r2), m2);
    // Neither the values nor anything that could rebuild them is left in what is sent.
    EXPECT_EQ(r1.find("DE89"), std::string::npos);
    EXPECT_EQ(r1.find("anna"), std::string::npos);
}

TEST(Redact, a_placeholder_already_in_the_text_is_never_issued_nor_restored) {
    Vault v;
    const std::string text = "Template field [[IBAN_1]]; real one: DE89370400440532013000";
    const std::vector<Finding> f = {{"iban", text.find("DE89"), text.size()}};
    const std::string r = v.redact(text, f, text);
    EXPECT_EQ(r, "Template field [[IBAN_1]]; real one: [[IBAN_2]]");
    EXPECT_EQ(v.restore(r), text);
    EXPECT_EQ(v.restore("[[IBAN_1]] [[IBAN_3]]"), "[[IBAN_1]] [[IBAN_3]]");
}

TEST(Redact, tool_call_arguments_get_their_values_back) {
    Vault v;
    const std::string text = "Send the invoice to mario.rossi@example.it";
    const std::string r = v.redact(text, {{"email", text.find("mario"), text.size()}});
    auto args = nlohmann::ordered_json::parse(R"({"to": ["[[EMAIL_1]]"], "subject": "For [[EMAIL_1]]", "n": 3})");
    v.restore(args);
    EXPECT_EQ(args.dump(), R"({"to":["mario.rossi@example.it"],"subject":"For mario.rossi@example.it","n":3})");
    EXPECT_EQ(r, "Send the invoice to [[EMAIL_1]]");
}

TEST(Redact, a_stream_split_anywhere_restores_as_the_whole) {
    Vault v;
    const std::string text = "IBAN DE89370400440532013000, card 4111 1111 1111 1111";
    const std::vector<Finding> f = {{"iban", 5, 27}, {"card", text.find("4111"), text.size()}};
    v.redact(text, f);
    const std::string answer = "Paid [[IBAN_1]] from [[CARD_1]]; [[ not a placeholder [[CARD_9]] [";
    const std::string whole = v.restore(answer);
    EXPECT_EQ(whole, "Paid DE89370400440532013000 from 4111 1111 1111 1111; [[ not a placeholder [[CARD_9]] [");
    for (size_t a = 0; a <= answer.size(); ++a) {
        for (size_t b = a; b <= answer.size(); b += 3) {
            StreamRestorer s(v);
            std::string out = s.push(answer.substr(0, a));
            out += s.push(answer.substr(a, b - a));
            out += s.push(answer.substr(b));
            out += s.flush();
            ASSERT_EQ(out, whole) << "split at " << a << " and " << b;
        }
    }
    // One byte at a time.
    StreamRestorer s(v);
    std::string out;
    for (char c : answer) out += s.push(std::string(1, c));
    EXPECT_EQ(out + s.flush(), whole);
}

}  // namespace
