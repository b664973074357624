#include "util/progress.h"

#include <cstdio>
#include <unistd.h>

namespace tf {

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled && ::isatty(2) == 1), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    int permille = static_cast<int>(done * 1000 / total);
    if (permille == last_permille_) return;
    last_permille_ = permille;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const int width = 30;
    int filled = permille * width / 1000;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %5.1f%%  %.1fs", label_.c_str(), bar.c_str(), permille / 10.0, secs);
    std::fflush(stderr);
    drawn_ = true;
}

void Progress::finish() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
}

}  // namespace tf
