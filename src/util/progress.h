// Progress of long work on stderr. On a terminal: one line redrawn in place (a bar, the
// count, rates, ETA). Elsewhere (logs, pipes): silent by default, so scripts stay clean; with
// `Lines`, a plain line every few seconds and one at the end, for long jobs whose logs are read.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tf {

class Progress {
  public:
    enum class Off { Silent, Lines };  // what to do when stderr is not a terminal

    explicit Progress(std::string label, bool enabled = true, Off off_terminal = Off::Silent, std::string unit = {});
    ~Progress();
    // `detail` (rates, counts) is shown after the count; the ETA comes from the pace so far.
    void update(uint64_t done, uint64_t total, const std::string& detail = {});
    void finish();
    double elapsed() const;

  private:
    std::string label_, unit_;
    bool tty_ = false, lines_ = false;
    bool drawn_ = false;
    int last_permille_ = -1;
    uint64_t last_done_ = 0, last_total_ = 0;
    std::string last_detail_;
    double last_line_ = -1;
    std::chrono::steady_clock::time_point start_;
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace tf
