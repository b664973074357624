// libFuzzer target for the privacy guard's scanner: prompts and documents are outside input, and
// every byte of them goes through it before anything may leave the machine. Any bytes must give
// findings inside the text, sorted and never overlapping — no crash, no hang.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "router/privacy_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const tf::router::PrivacyScanner scanner = [] {
        tf::router::ScanOptions o;
        o.patterns = {{"ticket", "\\bTCK-\\d{4,8}\\b"}};
        o.dictionaries = {{"project", {"falcon", "blue harbor"}}};
        return std::move(tf::router::PrivacyScanner::create(o).value());
    }();
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    size_t last_end = 0;
    for (const auto& f : scanner.scan(text)) {
        if (f.begin >= f.end || f.end > size || f.begin < last_end || f.type.empty()) std::abort();
        last_end = f.end;
    }
    return 0;
}
