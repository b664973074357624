// The privacy guard's detectors: where in a text personal data is — e-mail addresses, phone
// numbers (libphonenumber), IBANs, payment cards, national identifiers whose check digits agree
// (Italian codice fiscale and partita IVA, Spanish DNI/NIE, French NIR, German Steuer-ID, US
// SSN), dates of birth next to words that say so, and what the user adds: PCRE2 patterns and
// word lists. Findings are byte ranges of the UTF-8 text, sorted, never overlapping.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace tf::router {

struct Finding {
    std::string type;  // "email", "phone", "iban", "card", "it_codice_fiscale", … or a user pattern's name
    size_t begin = 0, end = 0;
};

struct ScanOptions {
    // Regions whose national phone formats count (numbers written with +CC count everywhere).
    std::vector<std::string> phone_regions = {"IT", "DE", "FR", "ES", "GB", "US"};
    std::vector<std::pair<std::string, std::string>> patterns;                   // name → PCRE2 regex
    std::vector<std::pair<std::string, std::vector<std::string>>> dictionaries;  // name → words (case-insensitive)
};

class PrivacyScanner {
  public:
    // Errors name a pattern that does not compile and where.
    static Result<PrivacyScanner> create(const ScanOptions& options = {});
    std::vector<Finding> scan(std::string_view text) const;

    PrivacyScanner(PrivacyScanner&&) noexcept;
    PrivacyScanner& operator=(PrivacyScanner&&) noexcept;
    ~PrivacyScanner();

  private:
    PrivacyScanner();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tf::router
