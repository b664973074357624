#include "router/identifiers.h"

#include <array>
#include <cctype>
#include <string>

namespace tf::router {

namespace {

// The characters of s other than spaces and hyphens (the separators identifiers are printed with).
std::string compact(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != ' ' && c != '-' && c != '\t') out += c;
    return out;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

int digit(char c) {
    return c - '0';
}

// Lengths of the IBANs of the countries that issue them (SWIFT's IBAN registry).
int iban_length(std::string_view cc) {
    struct Entry {
        const char* cc;
        int n;
    };
    static constexpr Entry kTable[] = {
        {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
        {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28},
        {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
        {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
        {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
        {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18},
        {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
        {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24},
        {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    };
    for (const auto& e : kTable)
        if (cc == e.cc) return e.n;
    return 0;
}

}  // namespace

bool valid_iban(std::string_view s) {
    const std::string c = compact(s);
    if (c.size() < 15 || c.size() > 34) return false;
    if (!std::isupper(static_cast<unsigned char>(c[0])) || !std::isupper(static_cast<unsigned char>(c[1])) ||
        !std::isdigit(static_cast<unsigned char>(c[2])) || !std::isdigit(static_cast<unsigned char>(c[3])))
        return false;
    if (iban_length(std::string_view(c).substr(0, 2)) != static_cast<int>(c.size())) return false;
    // The first four characters move to the end; letters count as 10..35; the number mod 97 is 1.
    int rem = 0;
    for (size_t k = 0; k < c.size(); ++k) {
        const char ch = c[(k + 4) % c.size()];
        if (std::isdigit(static_cast<unsigned char>(ch))) {
            rem = (rem * 10 + digit(ch)) % 97;
        } else if (std::isupper(static_cast<unsigned char>(ch))) {
            const int v = ch - 'A' + 10;
            rem = (rem * 100 + v) % 97;
        } else {
            return false;
        }
    }
    return rem == 1;
}

bool valid_card_number(std::string_view s) {
    const std::string c = compact(s);
    if (c.size() < 13 || c.size() > 19 || !all_digits(c)) return false;
    // A known network's prefix: Visa, Mastercard, American Express, Discover, JCB, Diners Club.
    const int p2 = std::stoi(c.substr(0, 2)), p3 = std::stoi(c.substr(0, 3)), p4 = std::stoi(c.substr(0, 4));
    const bool network = c[0] == '4' || (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720) || p2 == 34 || p2 == 37 ||
                         p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 35 || p2 == 36 || p2 == 38 ||
                         (p3 >= 300 && p3 <= 305);
    if (!network) return false;
    int sum = 0;
    for (size_t k = 0; k < c.size(); ++k) {
        int d = digit(c[c.size() - 1 - k]);
        if (k % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

bool valid_codice_fiscale(std::string_view s) {
    std::string c = compact(s);
    if (c.size() != 16) return false;
    for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    // Omocodia: a digit of the date or place may be replaced by a letter of LMNPQRSTUV.
    static constexpr std::string_view kOmocodia = "LMNPQRSTUV";
    auto is_digit_or_omo = [&](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch)) || kOmocodia.find(ch) != std::string_view::npos;
    };
    for (int i : {0, 1, 2, 3, 4, 5, 8, 11, 15})
        if (!std::isupper(static_cast<unsigned char>(c[static_cast<size_t>(i)]))) return false;
    for (int i : {6, 7, 9, 10, 12, 13, 14})
        if (!is_digit_or_omo(c[static_cast<size_t>(i)])) return false;
    if (std::string_view("ABCDEHLMPRST").find(c[8]) == std::string_view::npos) return false;
    // Day of birth: 1-31 (men) or 41-71 (women).
    auto value = [&](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch)) ? digit(ch) : static_cast<int>(kOmocodia.find(ch));
    };
    const int day = value(c[9]) * 10 + value(c[10]);
    if (!((day >= 1 && day <= 31) || (day >= 41 && day <= 71))) return false;
    // The check letter: odd positions (1st, 3rd, …) by a table, even ones by their value.
    static constexpr std::array<int, 26> kOdd = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                                                 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
    int sum = 0;
    for (size_t i = 0; i < 15; ++i) {
        const char ch = c[i];
        const int v = std::isdigit(static_cast<unsigned char>(ch)) ? digit(ch) : ch - 'A';
        sum += i % 2 == 0 ? kOdd[static_cast<size_t>(v)] : v;
    }
    return c[15] == static_cast<char>('A' + sum % 26);
}

bool valid_partita_iva(std::string_view s) {
    std::string c = compact(s);
    if (c.size() == 13 && (c[0] == 'I' || c[0] == 'i') && (c[1] == 'T' || c[1] == 't')) c = c.substr(2);
    if (c.size() != 11 || !all_digits(c) || c.substr(0, 7) == "0000000") return false;
    int sum = 0;
    for (size_t i = 0; i < 10; ++i) {
        int d = digit(c[i]);
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10 == digit(c[10]);
}

namespace {
constexpr std::string_view kDniLetters = "TRWAGMYFPDXBNJZSQVHLCKE";
}

bool valid_dni(std::string_view s) {
    const std::string c = compact(s);
    if (c.size() != 9 || !all_digits(std::string_view(c).substr(0, 8))) return false;
    const char letter = static_cast<char>(std::toupper(static_cast<unsigned char>(c[8])));
    return kDniLetters[static_cast<size_t>(std::stol(c.substr(0, 8)) % 23)] == letter;
}

bool valid_nie(std::string_view s) {
    const std::string c = compact(s);
    if (c.size() != 9) return false;
    const char first = static_cast<char>(std::toupper(static_cast<unsigned char>(c[0])));
    const size_t lead = std::string_view("XYZ").find(first);
    if (lead == std::string_view::npos || !all_digits(std::string_view(c).substr(1, 7))) return false;
    const long n = static_cast<long>(lead) * 10000000 + std::stol(c.substr(1, 7));
    return kDniLetters[static_cast<size_t>(n % 23)] ==
           static_cast<char>(std::toupper(static_cast<unsigned char>(c[8])));
}

bool valid_nir(std::string_view s) {
    std::string c = compact(s);
    if (c.size() != 15) return false;
    for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c[0] != '1' && c[0] != '2' && c[0] != '3' && c[0] != '7' && c[0] != '8') return false;
    // Corsica: département 2A and 2B count as 19 and 18 for the key.
    std::string digits = c.substr(0, 13);
    if (digits[5] == '2' && (digits[6] == 'A' || digits[6] == 'B'))
        digits.replace(5, 2, digits[6] == 'A' ? "19" : "18");
    if (!all_digits(digits) || !all_digits(std::string_view(c).substr(13, 2))) return false;
    const int month = std::stoi(digits.substr(3, 2));
    if (!((month >= 1 && month <= 12) || month == 20 || (month >= 30 && month <= 42) || month >= 50)) return false;
    const long long n = std::stoll(digits);
    return 97 - n % 97 == std::stoi(c.substr(13, 2));
}

bool valid_steuer_id(std::string_view s) {
    const std::string c = compact(s);
    if (c.size() != 11 || !all_digits(c) || c[0] == '0') return false;
    // In the first ten digits one digit occurs twice or three times, and that many others never.
    std::array<int, 10> count{};
    for (size_t i = 0; i < 10; ++i) ++count[static_cast<size_t>(digit(c[i]))];
    int repeated = 0, missing = 0;
    for (int k : count) {
        if (k >= 2) ++repeated;
        if (k > 3) return false;
        if (k == 0) ++missing;
    }
    if (repeated != 1 || (missing != 1 && missing != 2)) return false;
    // ISO 7064 MOD 11,10.
    int product = 10;
    for (size_t i = 0; i < 10; ++i) {
        int sum = (digit(c[i]) + product) % 10;
        if (sum == 0) sum = 10;
        product = (sum * 2) % 11;
    }
    int check = 11 - product;
    if (check == 10) check = 0;
    return check == digit(c[10]);
}

bool valid_ssn(std::string_view s) {
    if (s.size() != 11 || (s[3] != '-' && s[3] != ' ') || s[6] != s[3]) return false;
    const std::string area(s.substr(0, 3)), group(s.substr(4, 2)), serial(s.substr(7, 4));
    if (!all_digits(area) || !all_digits(group) || !all_digits(serial)) return false;
    const int a = std::stoi(area);
    return a != 0 && a != 666 && a < 900 && group != "00" && serial != "0000";
}

}  // namespace tf::router
