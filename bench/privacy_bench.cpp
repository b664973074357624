// The privacy guard's cost: the latency of scanning one 4 KB prompt (p50/p99 over many scans:
// the router pays it on every request that could leave the machine) and throughput on 1 MB of
// text (documents). The text mixes the corpus's sentences — identifiers, phones, e-mails, dates
// and look-alikes — five languages, about one finding per 150 bytes.
//
//   build/release/bench/privacy_bench [tests/router/data/privacy_corpus.jsonl] [SCANS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "router/privacy_scan.h"

int main(int argc, char** argv) {
    const std::string corpus = argc > 1 ? argv[1] : "tests/router/data/privacy_corpus.jsonl";
    const int scans = argc > 2 ? std::atoi(argv[2]) : 2000;
    std::ifstream in(corpus);
    if (!in) {
        std::fprintf(stderr, "privacy_bench: cannot read %s\n", corpus.c_str());
        return 1;
    }
    std::vector<std::string> sentences;
    for (std::string line; std::getline(in, line);) sentences.push_back(nlohmann::json::parse(line)["text"]);
    auto text_of = [&](size_t bytes) {
        std::string t;
        for (size_t i = 0; t.size() < bytes; ++i) t += sentences[(i * 7919) % sentences.size()] + " ";
        return t.substr(0, bytes);
    };
    auto scanner = tf::router::PrivacyScanner::create({});
    if (!scanner) return 1;
    using clock = std::chrono::steady_clock;

    const std::string prompt = text_of(4096);
    std::vector<double> us;
    size_t found = 0;
    for (int i = 0; i < scans; ++i) {
        const auto t0 = clock::now();
        found += scanner->scan(prompt).size();
        us.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    std::printf("4 KB prompt, %d scans: p50 %.0f us, p99 %.0f us, max %.0f us (%zu findings per scan)\n", scans,
                us[us.size() / 2], us[us.size() * 99 / 100], us.back(), found / static_cast<size_t>(scans));

    const std::string doc = text_of(size_t(1) << 20);
    const auto t0 = clock::now();
    const size_t n = scanner->scan(doc).size();
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("1 MB of text: %.3f s, %.2f MB/s (%zu findings)\n", s, static_cast<double>(doc.size()) / s / 1e6, n);
    return 0;
}
