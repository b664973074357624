// A one-line progress bar on stderr for long work (hashing, writing, quantizing). Silent when
// stderr is not a terminal, so logs and scripts stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tf {

class Progress {
  public:
    explicit Progress(std::string label, bool enabled = true);
    ~Progress();
    void update(uint64_t done, uint64_t total);
    void finish();

  private:
    std::string label_;
    bool enabled_;
    bool drawn_ = false;
    int last_permille_ = -1;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace tf
