#include "util/progress.h"

#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace tf {

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const long s = std::lround(seconds);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lds", s);
    return buf;
}

Progress::Progress(std::string label, bool enabled, Off off_terminal, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), start_(std::chrono::steady_clock::now()) {
    if (!enabled) return;
    tty_ = ::isatty(2) == 1;
    lines_ = !tty_ && off_terminal == Off::Lines;
}

Progress::~Progress() { finish(); }

double Progress::elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

void Progress::update(uint64_t done, uint64_t total, const std::string& detail) {
    if ((!tty_ && !lines_) || total == 0) return;
    last_done_ = done, last_total_ = total, last_detail_ = detail;
    const double secs = elapsed();
    const std::string count = unit_.empty() ? "" : "  " + std::to_string(done) + "/" + std::to_string(total) + " " + unit_;
    const std::string extra = detail.empty() ? "" : ", " + detail;
    const std::string eta = done > 0 && done < total ? ", ETA " + format_duration(secs / static_cast<double>(done) * static_cast<double>(total - done)) : "";
    if (lines_) {
        // A line every 5 s and at the end; never a carriage return in a log.
        if (done < total && last_line_ >= 0 && secs - last_line_ < 5.0) return;
        if (done < total && last_line_ < 0 && secs < 1.0) return;
        last_line_ = secs;
        std::fprintf(stderr, "%s:%s (%.0f%%)%s%s, %s elapsed\n", label_.c_str(), count.c_str(), 100.0 * static_cast<double>(done) / static_cast<double>(total),
                     extra.c_str(), eta.c_str(), format_duration(secs).c_str());
        std::fflush(stderr);
        return;
    }
    const int permille = static_cast<int>(done * 1000 / total);
    if (permille == last_permille_ && unit_.empty()) return;
    last_permille_ = permille;
    const int width = 30;
    const int filled = permille * width / 1000;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %5.1f%%%s%s%s  %s\x1b[K", label_.c_str(), bar.c_str(), permille / 10.0, count.c_str(), extra.c_str(), eta.c_str(),
                 format_duration(secs).c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void Progress::finish() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
}

}  // namespace tf
