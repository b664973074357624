#include "router/privacy_scan.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>
#include <optional>

#include "router/identifiers.h"

namespace tf::router {

namespace {

bool alnum(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Whether a word starting with one of `words` stands within `window` bytes before `at`
// (lower-cased ASCII; "ust" finds "USt-IdNr." but not "August").
bool preceded_by(std::string_view text, size_t at, const std::vector<std::string_view>& words, size_t window = 48) {
    const size_t from = at > window ? at - window : 0;
    const std::string before = lower_ascii(text.substr(from, at - from));
    for (auto w : words)
        for (size_t k = before.find(w); k != std::string::npos; k = before.find(w, k + 1))
            if (k == 0 || !std::isalpha(static_cast<unsigned char>(before[k - 1]))) return true;
    return false;
}

const std::vector<std::string_view> kVatWords = {"iva", "vat", "p.i.", "partita", "mwst", "ust", "tva", "nif", "cif"};
const std::vector<std::string_view> kSteuerWords = {"steuer", "identifikationsnummer", "idnr", "id-nr", "tax id"};
const std::vector<std::string_view> kCardWords = {"card", "carta",  "karte",  "carte",  "tarjeta", "visa", "mastercard",
                                                  "amex", "kredit", "credit", "crédit", "crédito", "pan"};
const std::vector<std::string_view> kPhoneWords = {"tel",  "phone", "fon",   "cell", "mobil",   "handy",   "fax",
                                                   "call", "chiam", "appel", "llam", "contatt", "contact", "whatsapp"};
const std::vector<std::string_view> kBirthWords = {
    "born", "birth",   "dob",   "d.o.b",  "nato il",   "nata il",    "nato a", "nata a", "nascita", "geboren",
    "geb.", "geburts", "né le", "née le", "naissance", "nacimiento", "nacido", "nacida", "nac.",    "data di nasc"};

// Chunks: maximal runs of letters and digits, with the separator before each (' ', '-', or none
// at the start of a group). A group is chunks joined by single separators; identifiers are
// printed as one chunk or as several ("IT60 X054 2811 …", "1 85 05 78 006 084 36").
struct Chunk {
    size_t begin, end;
    bool joined;  // separated from the previous chunk by exactly one ' ' or '-'
};

std::vector<Chunk> chunks_of(std::string_view t) {
    std::vector<Chunk> out;
    size_t i = 0;
    while (i < t.size()) {
        if (!alnum(t[i])) {
            ++i;
            continue;
        }
        const size_t b = i;
        while (i < t.size() && alnum(t[i])) ++i;
        const bool joined = !out.empty() && b == out.back().end + 1 && (t[b - 1] == ' ' || t[b - 1] == '-');
        out.push_back({b, i, joined});
    }
    return out;
}

struct Candidate {
    std::string type;
    size_t begin, end;
    int priority;  // lower wins an overlap
};

// The identifiers with check digits, over every run of up to 8 joined chunks.
void scan_identifiers(std::string_view t, std::vector<Candidate>& out) {
    const std::vector<Chunk> ch = chunks_of(t);
    for (size_t i = 0; i < ch.size(); ++i) {
        // A chunk glued to a letter or digit by a dot or slash is part of something longer
        // (a version, a path, a decimal): not an identifier's start.
        if (ch[i].begin > 0 && (t[ch[i].begin - 1] == '.' || t[ch[i].begin - 1] == '/' || t[ch[i].begin - 1] == '_') &&
            ch[i].begin > 1 && alnum(t[ch[i].begin - 2]))
            continue;
        std::string compact;
        size_t n_digits = 0;
        std::optional<Candidate> best;
        for (size_t j = i; j < ch.size() && j < i + 8; ++j) {
            if (j > i && !ch[j].joined) break;
            for (size_t k = ch[j].begin; k < ch[j].end; ++k) n_digits += t[k] >= '0' && t[k] <= '9';
            compact.append(t.substr(ch[j].begin, ch[j].end - ch[j].begin));
            if (compact.size() > 34) break;
            // Every identifier here holds digits — at least 6, but a codice fiscale's may all
            // be letters after omocodia, so 16 characters are always tried: most words of prose
            // end here, cheaply.
            if (n_digits < 3 && compact.size() != 16) continue;
            const size_t b = ch[i].begin, e = ch[j].end;
            if (e < t.size() && (t[e] == '.' || t[e] == '/' || t[e] == '_') && e + 1 < t.size() && alnum(t[e + 1]))
                continue;  // continues as something longer
            const std::string_view raw = t.substr(b, e - b);
            const size_t n = compact.size();
            std::string type;
            // (A NIR is tried before a card: 15 digits can pass both checks, and one grouped
            // 1-2-2-2-3-3-2 is no card number.)
            if (n >= 15 && valid_iban(raw)) {
                type = "iban";
            } else if (n == 15 && valid_nir(raw)) {
                type = "fr_nir";
            } else if (n >= 13 && n <= 19 && valid_card_number(raw) && (j > i || preceded_by(t, b, kCardWords, 32))) {
                // Written in groups, or named as a card: a bare run of digits that passes Luhn is
                // as often an invoice number (one in ten does).
                type = "card";
            } else if (n == 16 && valid_codice_fiscale(raw)) {
                type = "it_codice_fiscale";
            } else if (n == 9 && raw.size() == 11 && valid_ssn(raw)) {
                type = "us_ssn";
            } else if (n == 9 && valid_dni(raw)) {
                type = "es_dni";
            } else if (n == 9 && valid_nie(raw)) {
                type = "es_nie";
            } else if ((n == 11 || n == 13) && valid_partita_iva(raw) && (n == 13 || preceded_by(t, b, kVatWords))) {
                type = "it_partita_iva";
            } else if (n == 11 && valid_steuer_id(raw) && preceded_by(t, b, kSteuerWords)) {
                type = "de_steuer_id";
            }
            if (!type.empty()) best = Candidate{type, b, e, 1};  // the longest valid run from this chunk
        }
        if (best) out.push_back(*best);
    }
}

void scan_emails(std::string_view t, std::vector<Candidate>& out) {
    // Bytes of UTF-8 sequences count as letters (internationalized addresses: lópez@…, RFC 6531).
    auto utf8 = [](char c) { return static_cast<unsigned char>(c) >= 0x80; };
    auto local = [&](char c) {
        return alnum(c) || utf8(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
    };
    auto domain = [&](char c) { return alnum(c) || utf8(c) || c == '.' || c == '-'; };
    for (size_t at = t.find('@'); at != std::string_view::npos; at = t.find('@', at + 1)) {
        size_t b = at;
        while (b > 0 && local(t[b - 1])) --b;
        size_t e = at + 1;
        while (e < t.size() && domain(t[e])) ++e;
        while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) --e;  // a sentence's full stop
        while (b < at && t[b] == '.') ++b;
        if (b == at || e == at + 1) continue;
        const std::string_view dom = t.substr(at + 1, e - at - 1);
        const size_t dot = dom.rfind('.');
        if (dot == std::string_view::npos || dot == 0 || dom.size() - dot - 1 < 2) continue;
        bool tld_alpha = true;
        for (char c : dom.substr(dot + 1)) tld_alpha = tld_alpha && std::isalpha(static_cast<unsigned char>(c));
        if (tld_alpha) out.push_back({"email", b, e, 1});
    }
}

// Where phone numbers may be: from a '+', '(' or digit at a word boundary, over digits and the
// separators numbers are written with (a single space, '-', '.', '/', parentheses), holding
// 6 to 15 digits. Cheap, and linear in the text.
std::vector<std::pair<size_t, size_t>> phone_candidates(std::string_view t) {
    std::vector<std::pair<size_t, size_t>> out;
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    size_t i = 0;
    while (i < t.size()) {
        const char c = t[i];
        const bool start = (c == '+' || c == '(' || digit(c)) && (i == 0 || !alnum(t[i - 1]));
        if (!start) {
            ++i;
            continue;
        }
        size_t e = i, digits = 0, last_digit_end = i;
        if (t[e] == '+' || t[e] == '(') ++e;
        while (e < t.size()) {
            const char x = t[e];
            if (digit(x)) {
                ++digits;
                last_digit_end = e + 1;
            } else if (x == ' ' || x == '-' || x == '.' || x == '/' || x == '(' || x == ')') {
                // One separator between digits; a second in a row (or " / ") ends the number.
                if (e + 1 >= t.size() || !(digit(t[e + 1]) || t[e + 1] == '(' || (x == ')' && t[e + 1] == ' '))) break;
            } else {
                break;
            }
            ++e;
        }
        if (digits >= 6 && digits <= 15 && (last_digit_end >= t.size() || !alnum(t[last_digit_end])))
            out.emplace_back(i, last_digit_end);
        i = std::max(e, i + 1);
    }
    return out;
}

// Whether a national number (no +CC) of `region` can start with this digit: the trunk prefix 0
// where the plan has one, the first digits of the closed plans (Spain 6-9, North America 2-9 or
// a leading 1, Italy's mobiles 3). Regions not listed are always tried.
bool national_lead_possible(const std::string& region, char lead) {
    if (region == "IT") return lead == '0' || lead == '3';
    if (region == "DE" || region == "FR" || region == "GB" || region == "AT" || region == "CH" || region == "NL" ||
        region == "BE")
        return lead == '0';
    if (region == "ES") return lead >= '6' && lead <= '9';
    if (region == "US" || region == "CA") return lead >= '1' && lead <= '9';
    return true;
}

// libphonenumber finds a valid number of some plan in almost any run of 8-12 digits (order
// numbers, "2022/923165"): a match counts when written as phone numbers are — with +CC, or in
// groups (a slash only after a leading 0, as in "030/1234567") — or named as one just before.
bool phone_like(std::string_view t, size_t at, const std::string& raw) {
    if (raw.empty()) return false;
    // The tail of a code ("PO-0957-5009", "#2022/923165") is not a number of its own.
    if (at > 1 && (t[at - 1] == '-' || t[at - 1] == '/' || t[at - 1] == '#') && alnum(t[at - 2])) return false;
    if (at > 0 && t[at - 1] == '#') return false;
    if (raw[0] == '+' || preceded_by(t, at, kPhoneWords, 24)) return true;
    const bool grouped = raw.find_first_of(" -.()") != std::string::npos;
    const size_t slash = raw.find('/');
    if (slash != std::string::npos) return raw[0] == '0';
    return grouped;
}

// The length of the valid UTF-8 sequence at s[i] (1-4), or 0 when the byte starts none.
size_t utf8_sequence(std::string_view s, size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    const uint32_t cp =
        n == 1   ? b
        : n == 2 ? ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu)
        : n == 3 ? ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu)
                 : ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
    const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_sequence(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string repair_utf8(std::string_view s) {
    std::string out(s);
    for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_sequence(s, i);
        if (n == 0) {
            out[i] = '?';
            ++i;
        } else {
            i += n;
        }
    }
    return out;
}

struct Regex {
    pcre2_code* code = nullptr;
    pcre2_match_data* md = nullptr;
    ~Regex() {
        if (md) pcre2_match_data_free(md);
        if (code) pcre2_code_free(code);
    }
    static Result<std::unique_ptr<Regex>> compile(const std::string& pattern, uint32_t flags) {
        auto r = std::make_unique<Regex>();
        int err = 0;
        PCRE2_SIZE off = 0;
        r->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), flags | PCRE2_UTF, &err,
                                &off, nullptr);
        if (!r->code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return Error{"at offset " + std::to_string(off) + ": " + reinterpret_cast<const char*>(msg)};
        }
        pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);
        return r;
    }
    // Every match [begin, end) in t; `f` per match.
    template <typename F>
    void each(std::string_view t, F f) const {
        pcre2_match_data* m = pcre2_match_data_create_from_pattern(code, nullptr);
        size_t at = 0;
        while (at <= t.size()) {
            // The text is valid UTF-8 (scan() makes it so): checking it again on every call made
            // a scan quadratic in the text's length.
            const int rc =
                pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(t.data()), t.size(), at, PCRE2_NO_UTF_CHECK, m, nullptr);
            if (rc < 0) break;
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m);
            f(static_cast<size_t>(ov[0]), static_cast<size_t>(ov[1]));
            at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
        }
        pcre2_match_data_free(m);
    }
};

}  // namespace

struct PrivacyScanner::Impl {
    ScanOptions options;
    std::unique_ptr<Regex> date;
    std::vector<std::pair<std::string, std::unique_ptr<Regex>>> patterns;
    std::vector<std::pair<std::string, std::vector<std::string>>> dictionaries;  // lower-cased words
};

PrivacyScanner::PrivacyScanner() : impl_(std::make_unique<Impl>()) {}
PrivacyScanner::PrivacyScanner(PrivacyScanner&&) noexcept = default;
PrivacyScanner& PrivacyScanner::operator=(PrivacyScanner&&) noexcept = default;
PrivacyScanner::~PrivacyScanner() = default;

Result<PrivacyScanner> PrivacyScanner::create(const ScanOptions& options) {
    PrivacyScanner s;
    s.impl_->options = options;
    // Numeric dates (12/03/1985, 12.3.85, 1985-03-12) and written ones (12 March 1985, 3 marzo
    // 1985, 12. März 1985, 12 de marzo de 1985), in the five languages of the guard's corpus.
    const std::string months =
        "jan(?:uary|uar|vier)?|feb(?:ruary|braio|ruar|rero)?|f[ée]vrier|mar(?:ch|zo|s)?|m[äa]rz|apr(?:il|ile)?|avril|"
        "abril|"
        "ma[yi]|maggio|mai|mayo|jun(?:e|i|io)?|giugno|juin|jul(?:y|i|io)?|luglio|juillet|aug(?:ust)?|agosto|ao[ûu]t|"
        "sep(?:t(?:ember)?)?|settembre|septembre|septiembre|oct(?:ober|obre)?|ottobre|okt(?:ober)?|octubre|nov(?:ember|"
        "embre)?|"
        "dic(?:embre)?|dec(?:ember)?|dez(?:ember)?|d[ée]cembre|diciembre|gen(?:naio)?|ene(?:ro)?";
    const std::string date =
        "\\b(?:\\d{1,2}[./-]\\d{1,2}[./-](?:\\d{4}|\\d{2})|\\d{4}-\\d{2}-\\d{2}|\\d{1,2}\\.?\\s+(?:de\\s+)?(?:" +
        months + ")\\.?\\s+(?:de\\s+)?\\d{4})\\b";
    auto d = Regex::compile(date, PCRE2_CASELESS | PCRE2_UCP);
    if (!d) return Error{"the date pattern: " + d.error().message, ErrorKind::Internal};
    s.impl_->date = std::move(d.value());
    for (const auto& [name, pattern] : options.patterns) {
        auto r = Regex::compile(pattern, 0);
        if (!r) return Error{"pattern '" + name + "': " + r.error().message};
        s.impl_->patterns.emplace_back(name, std::move(r.value()));
    }
    for (const auto& [name, words] : options.dictionaries) {
        std::vector<std::string> lw;
        for (const auto& w : words)
            if (!w.empty()) lw.push_back(lower_ascii(w));
        s.impl_->dictionaries.emplace_back(name, std::move(lw));
    }
    return s;
}

std::vector<Finding> PrivacyScanner::scan(std::string_view text) const {
    // Invalid UTF-8 bytes become '?' in a copy of the same length (offsets hold): a stray byte
    // must not make the patterns skip the rest of a document.
    std::string repaired;
    if (!valid_utf8(text)) repaired = repair_utf8(text);
    const std::string_view t = repaired.empty() ? text : std::string_view(repaired);
    std::vector<Candidate> c;
    scan_identifiers(t, c);
    scan_emails(t, c);
    impl_->date->each(t, [&](size_t b, size_t e) {
        // The word right before the date ("nato il 12/03/1985", "born on 5 March 1990"): a
        // birthday mentioned earlier does not make every later date one.
        if (preceded_by(t, b, kBirthWords, 16)) c.push_back({"date_of_birth", b, e, 2});
    });
    for (const auto& p : impl_->patterns)
        p.second->each(t, [&](size_t b, size_t e) {
            if (e > b) c.push_back({p.first, b, e, 0});
        });
    if (!impl_->dictionaries.empty()) {
        const std::string lt = lower_ascii(t);
        for (const auto& [name, words] : impl_->dictionaries)
            for (const auto& w : words)
                for (size_t at = lt.find(w); at != std::string::npos; at = lt.find(w, at + 1)) {
                    const size_t e = at + w.size();
                    if ((at == 0 || !alnum(lt[at - 1])) && (e == lt.size() || !alnum(lt[e])))
                        c.push_back({name, at, e, 0});
                }
    }
    // Phone numbers: runs of digits written as numbers are (phone_candidates), each parsed by
    // libphonenumber — with +CC in its own plan, otherwise in a listed region's — and kept when
    // valid there. (Its PhoneNumberMatcher over the whole text took 0.75 s per 64 KB with six
    // regions, and grew faster than the text.)
    using i18n::phonenumbers::PhoneNumber;
    using i18n::phonenumbers::PhoneNumberUtil;
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    // Parsing is the expensive part: a run already found as something else (an IBAN, a date) is
    // not parsed, and a national number only in the regions whose numbers can start that way.
    std::map<size_t, size_t> taken;
    for (const auto& k : c) taken.emplace(k.begin, k.end);
    auto overlaps_taken = [&](size_t b, size_t e) {
        auto next = taken.lower_bound(b);
        if (next != taken.end() && next->first < e) return true;
        return next != taken.begin() && std::prev(next)->second > b;
    };
    for (const auto& [b, e] : phone_candidates(t)) {
        if (overlaps_taken(b, e)) continue;
        const std::string raw(t.substr(b, e - b));
        if (!phone_like(t, b, raw)) continue;
        const char lead = raw[raw.find_first_of("0123456789")];
        bool valid = false;
        for (size_t r = 0; r < impl_->options.phone_regions.size() + 1 && !valid; ++r) {
            const std::string region = r == 0 ? "ZZ" : impl_->options.phone_regions[r - 1];
            if ((r == 0) != (raw[0] == '+') || !national_lead_possible(region, lead)) continue;
            PhoneNumber number;
            valid = util.Parse(raw, region, &number) == PhoneNumberUtil::NO_PARSING_ERROR && util.IsValidNumber(number);
        }
        if (valid) c.push_back({"phone", b, e, 3});
    }
    // Overlaps: user patterns first, then identifiers and e-mail, dates, phones; earlier and
    // longer first within a kind.
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
        if (a.priority != b.priority) return a.priority < b.priority;
        if (a.begin != b.begin) return a.begin < b.begin;
        return a.end > b.end;
    });
    std::map<size_t, Finding> kept;  // by begin; never overlapping
    for (const auto& k : c) {
        auto next = kept.lower_bound(k.begin);
        if (next != kept.end() && next->second.begin < k.end) continue;
        if (next != kept.begin() && std::prev(next)->second.end > k.begin) continue;
        kept.emplace(k.begin, Finding{k.type, k.begin, k.end});
    }
    std::vector<Finding> out;
    out.reserve(kept.size());
    for (auto& [b, f] : kept) out.push_back(std::move(f));
    return out;
}

}  // namespace tf::router
