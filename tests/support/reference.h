// Locating ../shared (reference data) for golden tests. The product never reads it.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace tf::test {

inline std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("TF_SHARED_DIR"); env != nullptr && *env) return env;
    return TF_SHARED_DIR;
}

inline std::filesystem::path reference_dir() { return shared_dir() / "reference"; }

inline bool have_reference() { return std::filesystem::exists(reference_dir() / "models"); }

// Every GGUF under reference/models and reference/vocab, sorted.
inline std::vector<std::filesystem::path> reference_ggufs() {
    std::vector<std::filesystem::path> out;
    for (const char* sub : {"models", "vocab"}) {
        auto dir = reference_dir() / sub;
        if (!std::filesystem::exists(dir)) continue;
        for (const auto& e : std::filesystem::directory_iterator(dir)) {
            if (e.path().extension() == ".gguf") out.push_back(e.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace tf::test

#define TF_REQUIRE_REFERENCE()                                                                        \
    do {                                                                                              \
        if (!tf::test::have_reference())                                                              \
            GTEST_SKIP() << "reference data not found at " << tf::test::reference_dir()               \
                         << " (set TF_SHARED_DIR)";                                                   \
    } while (0)
