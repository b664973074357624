// A latency histogram with fixed bucket bounds, in the shape Prometheus expects (cumulative
// counts per upper bound, plus sum and count). Not synchronized: the owner guards it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace tf {

class Histogram {
  public:
    // Upper bounds in seconds, from 1 ms to 2 minutes: decode steps of small models take a few
    // milliseconds, a first token behind a long prompt or a queue can take minutes.
    static constexpr std::array<double, 16> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0, 120.0};

    void observe(double seconds) {
        size_t i = 0;
        while (i < kBounds.size() && seconds > kBounds[i]) ++i;
        ++counts_[i];
        sum_ += seconds;
        ++count_;
    }
    void merge(const Histogram& o) {
        for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
        sum_ += o.sum_;
        count_ += o.count_;
    }
    uint64_t count() const { return count_; }
    double sum() const { return sum_; }
    // Observations at or below kBounds[i] (i == kBounds.size(): all of them).
    uint64_t cumulative(size_t i) const {
        uint64_t c = 0;
        for (size_t k = 0; k <= i && k < counts_.size(); ++k) c += counts_[k];
        return c;
    }
    // The smallest bound holding at least a fraction q of the observations (an upper estimate
    // of the q-quantile, as histogram_quantile reads it); 0 when empty.
    double quantile_bound(double q) const {
        if (count_ == 0) return 0;
        for (size_t i = 0; i < kBounds.size(); ++i) {
            if (static_cast<double>(cumulative(i)) >= q * static_cast<double>(count_)) return kBounds[i];
        }
        return kBounds.back();
    }

    // The samples of this histogram as metric `name` in Prometheus' text format; `labels` are
    // extra label pairs ("model=\"x\"") or empty. The # HELP/# TYPE lines are the caller's.
    std::string prometheus(const std::string& name, const std::string& labels = "") const {
        const std::string pre = labels.empty() ? "" : labels + ",";
        std::string m;
        for (size_t i = 0; i < kBounds.size(); ++i) {
            m += name + "_bucket{" + pre + "le=\"" + format_bound(kBounds[i]) + "\"} " + std::to_string(cumulative(i)) + "\n";
        }
        m += name + "_bucket{" + pre + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
        const std::string braces = labels.empty() ? "" : "{" + labels + "}";
        m += name + "_sum" + braces + " " + std::to_string(sum_) + "\n";
        m += name + "_count" + braces + " " + std::to_string(count_) + "\n";
        return m;
    }

  private:
    static std::string format_bound(double b) {
        std::string s = std::to_string(b);
        while (s.size() > 1 && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }
    std::array<uint64_t, kBounds.size() + 1> counts_{};
    double sum_ = 0;
    uint64_t count_ = 0;
};

}  // namespace tf
