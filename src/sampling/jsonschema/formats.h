// The string formats the grammar writes and the validator asserts, as one regular expression
// each, read by both: the grammar compiler turns it into GBNF (regex_to_gbnf), the validator
// matches it whole with PCRE2 — so both accept exactly the same strings. ASCII only ([0-9], not
// \d: a Bengali digit is no digit here), per RFC 3986 (uri, ipv6), RFC 1123 (hostname labels),
// RFC 5321 (email: the grammar writes the dot-atom form; the validator also takes quoted local
// parts and address literals). date, time and date-time need more than a regular expression
// (month lengths and leap years, leap seconds at 23:59:60 UTC): see to_grammar and validator.
#pragma once

#include <string>

namespace tf::jsonschema::formats {

inline const std::string kHex4 = "[0-9a-fA-F]{1,4}";
inline const std::string kOctet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
inline const std::string kIpv4 = "(" + kOctet + "\\.){3}" + kOctet;
inline const std::string kLs32 = "(" + kHex4 + ":" + kHex4 + "|" + kIpv4 + ")";
// RFC 3986's nine forms of IPv6address.
inline const std::string kIpv6 = "((" + kHex4 + ":){6}" + kLs32 + "|::(" + kHex4 + ":){5}" + kLs32 + "|(" + kHex4 + ")?::(" + kHex4 + ":){4}" +
                                 kLs32 + "|((" + kHex4 + ":)?" + kHex4 + ")?::(" + kHex4 + ":){3}" + kLs32 + "|((" + kHex4 + ":){0,2}" + kHex4 +
                                 ")?::(" + kHex4 + ":){2}" + kLs32 + "|((" + kHex4 + ":){0,3}" + kHex4 + ")?::" + kHex4 + ":" + kLs32 + "|((" +
                                 kHex4 + ":){0,4}" + kHex4 + ")?::" + kLs32 + "|((" + kHex4 + ":){0,5}" + kHex4 + ")?::" + kHex4 + "|((" + kHex4 +
                                 ":){0,6}" + kHex4 + ")?::)";
inline const std::string kLabel = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
inline const std::string kHostname = kLabel + "(\\." + kLabel + ")*";
inline const std::string kAtom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+";
inline const std::string kPct = "%[0-9a-fA-F]{2}";
inline const std::string kPchar = "([a-zA-Z0-9._~!$&'()*+,;=:@-]|" + kPct + ")";
inline const std::string kUri = "[a-zA-Z][a-zA-Z0-9+.-]*:(//(([a-zA-Z0-9._~!$&'()*+,;=:-]|" + kPct + ")*@)?(\\[" + kIpv6 + "\\]|([a-zA-Z0-9._~!$&'()*+,;=-]|" +
                                kPct + ")*)(:[0-9]*)?(/" + kPchar + "*)*|/(" + kPchar + "+(/" + kPchar + "*)*)?|" + kPchar + "+(/" + kPchar +
                                "*)*)?(\\?(" + kPchar + "|[/?])*)?(#(" + kPchar + "|[/?])*)?";

// Whole-string patterns, without anchors (the grammar's string holds the match; the validator
// anchors at both ends).
inline const std::string kUuidPattern = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
inline const std::string kEmailGrammar = kAtom + "(\\." + kAtom + ")*@" + kLabel + "(\\." + kLabel + ")+";
inline const std::string kEmailValidator = "(" + kAtom + "(\\." + kAtom + ")*|\"([^\"\\\\]|\\\\.)*\")@(" + kHostname + "|\\[" + kIpv4 + "\\]|\\[IPv6:" + kIpv6 + "\\])";

// The pattern the grammar follows for a format ("" when not one of these).
inline std::string grammar_pattern(const std::string& format) {
    if (format == "uuid") return kUuidPattern;
    if (format == "ipv4") return kIpv4;
    if (format == "ipv6") return kIpv6;
    if (format == "hostname") return kHostname;
    if (format == "email") return kEmailGrammar;
    if (format == "uri") return kUri;
    return "";
}

// The pattern the validator asserts for a format ("" when not one of these).
inline std::string validator_pattern(const std::string& format) {
    if (format == "email") return kEmailValidator;
    return grammar_pattern(format);
}

}  // namespace tf::jsonschema::formats
