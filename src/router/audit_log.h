// The routing audit log: one JSON line per routing decision — time, route, tier, why, what the
// privacy guard found (types and counts, never values), tokens and cost — each record carrying
// the hash of the one before, so that `terraferma audit verify` finds a record removed, edited
// or moved. Append-only: a process reopening the log continues its chain.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "util/result.h"

namespace tf::router {

struct AuditRecord {
    std::string route, tier, reason, policy, action;  // action: local, sent, redacted, blocked, failed
    bool remote = false;
    std::map<std::string, int> found;  // the guard's findings per type
    int64_t tokens_in = 0, tokens_out = 0;
    double cost_usd = 0.0;
    int status = 200;
};

class AuditLog {
  public:
    // Opens (creating) the log and reads where its chain ends; an error when the last record is
    // not one this log wrote.
    static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
    Status append(const AuditRecord& r);
    ~AuditLog();

  private:
    AuditLog() = default;
    std::mutex mu_;
    int fd_ = -1;
    uint64_t seq_ = 0;
    std::string prev_;
};

struct AuditCheck {
    uint64_t records = 0;
    std::string error;  // empty when the chain holds: "line N: …"
};
// Checks every record's hash and its link to the one before.
Result<AuditCheck> verify_audit_log(const std::string& path);

// The hash of a record: SHA-256 over the previous hash and the record's JSON without its own
// "hash" (keys in written order).
std::string audit_hash(const std::string& prev, const nlohmann::ordered_json& record_without_hash);

}  // namespace tf::router
