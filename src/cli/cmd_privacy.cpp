// terraferma privacy scan [FILE...] [--json] [--pattern NAME=REGEX]... [--words NAME=FILE]... [--regions IT,DE,…]
// terraferma privacy redact [FILE...] (same options)
//
// What the privacy guard finds in a text, and what would leave the machine under a `redact`
// policy — to check the guard on one's own documents before routing anything out. Text from
// files or stdin (`terraferma text doc.pdf | terraferma privacy scan` for other formats).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "router/privacy_scan.h"
#include "router/redact.h"

namespace tf::cli {

namespace {

struct PrivacyArgs {
    std::vector<std::string> files, patterns, words;
    std::string regions = "IT,DE,FR,ES,GB,US";
    bool json = false;
};

Result<std::string> read_all(const std::string& path) {
    std::stringstream ss;
    if (path == "-") {
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) return Error{path + ": cannot read"};
    ss << f.rdbuf();
    return ss.str();
}

Result<router::PrivacyScanner> make_scanner(const PrivacyArgs& a) {
    router::ScanOptions o;
    o.phone_regions.clear();
    std::stringstream rs(a.regions);
    for (std::string r; std::getline(rs, r, ',');)
        if (!r.empty()) o.phone_regions.push_back(r);
    for (const auto& p : a.patterns) {
        const size_t eq = p.find('=');
        if (eq == std::string::npos || eq == 0) return Error{"--pattern '" + p + "': expected NAME=REGEX"};
        o.patterns.emplace_back(p.substr(0, eq), p.substr(eq + 1));
    }
    for (const auto& w : a.words) {
        const size_t eq = w.find('=');
        if (eq == std::string::npos || eq == 0) return Error{"--words '" + w + "': expected NAME=FILE"};
        auto text = read_all(w.substr(eq + 1));
        if (!text) return text.error();
        std::vector<std::string> list;
        std::stringstream ls(*text);
        for (std::string line; std::getline(ls, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) list.push_back(line);
        }
        o.dictionaries.emplace_back(w.substr(0, eq), std::move(list));
    }
    return router::PrivacyScanner::create(o);
}

// A finding shown without showing it: its first and last two characters.
std::string masked(std::string_view v) {
    if (v.size() <= 6) return std::string(v.size(), '*');
    return std::string(v.substr(0, 2)) + std::string(v.size() - 4, '*') + std::string(v.substr(v.size() - 2));
}

void add_options(CLI::App* app, PrivacyArgs& a) {
    app->add_option("files", a.files, "Text files (none or '-': standard input)");
    // One value per occurrence: "--pattern P FILE" must leave FILE to the positionals.
    app->add_option("--pattern", a.patterns, "Also find NAME=REGEX (PCRE2, UTF-8); repeatable")
        ->allow_extra_args(false);
    app->add_option("--words", a.words,
                    "Also find NAME=FILE: the file's words or phrases, one per line, any case; repeatable")
        ->allow_extra_args(false);
    app->add_option("--regions", a.regions, "Regions whose national phone formats count (+CC numbers always do)")
        ->capture_default_str();
}

}  // namespace

void add_privacy_commands(CLI::App& root, Commands& commands) {
    CLI::App* privacy =
        root.add_subcommand("privacy", "What the privacy guard finds in a text, and what it would send");
    privacy->require_subcommand(1);

    auto s = std::make_shared<PrivacyArgs>();
    CLI::App* scan = privacy->add_subcommand("scan", "List the personal data found: type, place, a masked preview");
    add_options(scan, *s);
    scan->add_flag("--json", s->json, "One JSON object per finding (file, type, begin, end, line; no values)");
    commands.push_back({scan, [s]() {
                            auto scanner = make_scanner(*s);
                            if (!scanner) {
                                print_error("privacy scan", scanner.error().message);
                                return kExitFailure;
                            }
                            std::vector<std::string> files =
                                s->files.empty() ? std::vector<std::string>{"-"} : s->files;
                            for (const auto& f : files) {
                                auto text = read_all(f);
                                if (!text) {
                                    print_error("privacy scan", text.error().message);
                                    return kExitFailure;
                                }
                                size_t line = 1, counted = 0;
                                for (const auto& x : scanner->scan(*text)) {
                                    for (; counted < x.begin; ++counted) line += (*text)[counted] == '\n';
                                    const std::string_view v = std::string_view(*text).substr(x.begin, x.end - x.begin);
                                    if (s->json) {
                                        nlohmann::ordered_json j{{"file", f == "-" ? "<stdin>" : f},
                                                                 {"type", x.type},
                                                                 {"begin", x.begin},
                                                                 {"end", x.end},
                                                                 {"line", line}};
                                        std::printf("%s\n", j.dump().c_str());
                                    } else {
                                        std::printf("%s:%zu: %-18s %s\n", f == "-" ? "<stdin>" : f.c_str(), line,
                                                    x.type.c_str(), masked(v).c_str());
                                    }
                                }
                            }
                            return kExitOk;
                        }});

    auto r = std::make_shared<PrivacyArgs>();
    CLI::App* redact =
        privacy->add_subcommand("redact", "Print the text as a `redact` route would send it (placeholders)");
    add_options(redact, *r);
    commands.push_back({redact, [r]() {
                            auto scanner = make_scanner(*r);
                            if (!scanner) {
                                print_error("privacy redact", scanner.error().message);
                                return kExitFailure;
                            }
                            router::Vault vault;
                            std::vector<std::string> files =
                                r->files.empty() ? std::vector<std::string>{"-"} : r->files;
                            for (const auto& f : files) {
                                auto text = read_all(f);
                                if (!text) {
                                    print_error("privacy redact", text.error().message);
                                    return kExitFailure;
                                }
                                const std::string out = vault.redact(*text, scanner->scan(*text), *text);
                                std::fwrite(out.data(), 1, out.size(), stdout);
                            }
                            std::string summary;
                            for (const auto& [type, n] : vault.counts())
                                summary += (summary.empty() ? "" : ", ") + type + " " + std::to_string(n);
                            std::fprintf(stderr, "terraferma: privacy redact: %s\n",
                                         summary.empty() ? "nothing found" : ("redacted " + summary).c_str());
                            return kExitOk;
                        }});
}

}  // namespace tf::cli
