// Streaming text past stop strings: text that might be the start of a stop string is held back
// until it is decided, and the stream is cut right before the first complete one.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tf::engine {

// Holds back text that might be the start of a stop string and cuts at the first complete one.
class StopFilter {
  public:
    explicit StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

    // Adds text; returns what can be released now. `hit` is set when a stop string completed.
    std::string push(std::string_view text, bool& hit) {
        held_ += text;
        size_t first = std::string::npos;
        for (const std::string& s : stops_) {
            if (s.empty()) continue;
            first = std::min(first, held_.find(s));
        }
        if (first != std::string::npos) {
            hit = true;
            std::string out = held_.substr(0, first);
            held_.clear();
            return out;
        }
        size_t keep = 0;  // longest tail of held_ that begins some stop string
        for (const std::string& s : stops_) {
            if (s.empty()) continue;
            for (size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k) {
                if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
                    keep = k;
                    break;
                }
            }
        }
        std::string out = held_.substr(0, held_.size() - keep);
        held_.erase(0, held_.size() - keep);
        return out;
    }
    std::string flush() { return std::exchange(held_, {}); }

  private:
    std::vector<std::string> stops_;
    std::string held_;
};

}  // namespace tf::engine
