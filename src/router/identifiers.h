// Check digits of the identifiers the privacy guard looks for: each function takes a candidate
// as written (spaces and hyphens allowed where the format has them) and says whether it is a
// well-formed identifier whose check digits agree. A wrong check digit is not an identifier: an
// invoice number that merely looks like one is not reported.
#pragma once

#include <string_view>

namespace tf::router {

bool valid_iban(std::string_view s);            // ISO 13616: country length, mod 97 == 1
bool valid_card_number(std::string_view s);     // Luhn over 13-19 digits of a known card network
bool valid_codice_fiscale(std::string_view s);  // Italy: 16 characters, omocodia included
bool valid_partita_iva(std::string_view s);     // Italy: 11 digits (an "IT" prefix allowed)
bool valid_dni(std::string_view s);             // Spain: 8 digits and the mod-23 letter
bool valid_nie(std::string_view s);             // Spain: X/Y/Z, 7 digits and the mod-23 letter
bool valid_nir(std::string_view s);             // France: 13 characters + 2-digit key (97 - n mod 97), Corsica 2A/2B
bool valid_steuer_id(std::string_view s);       // Germany: 11 digits, digit repetition rule, ISO 7064 MOD 11,10
bool valid_ssn(std::string_view s);             // US: AAA-GG-SSSS, no 000/666/9xx area, 00 group, 0000 serial

}  // namespace tf::router
