#include "router/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <span>

#include "util/sha256.h"

namespace tf::router {

namespace {

using ojson = nlohmann::ordered_json;
const std::string kGenesis(64, '0');

std::string utc_now() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

std::string serial(const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace

std::string audit_hash(const std::string& prev, const ojson& record) {
    const std::string text = prev + "\n" + serial(record);
    return sha256_hex({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
    std::unique_ptr<AuditLog> log(new AuditLog());
    log->prev_ = kGenesis;
    {
        std::ifstream in(path, std::ios::binary);
        std::string line, last;
        while (std::getline(in, line))
            if (!line.empty()) last = line;
        if (!last.empty()) {
            const ojson j = ojson::parse(last, nullptr, false);
            if (j.is_discarded() || !j.contains("hash") || !j["hash"].is_string() || !j.contains("seq") ||
                !j["seq"].is_number_unsigned())
                return Error{path + ": the last line is not an audit record; refusing to continue its chain"};
            log->prev_ = j["hash"].get<std::string>();
            log->seq_ = j["seq"].get<uint64_t>();
        }
    }
    log->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log->fd_ < 0) return Error{path + ": cannot open the audit log for appending"};
    return log;
}

AuditLog::~AuditLog() {
    if (fd_ >= 0) ::close(fd_);
}

Status AuditLog::append(const AuditRecord& r) {
    std::lock_guard<std::mutex> lock(mu_);
    ojson j = {{"seq", seq_ + 1},
               {"time", utc_now()},
               {"route", r.route},
               {"tier", r.tier},
               {"remote", r.remote},
               {"reason", r.reason},
               {"policy", r.policy},
               {"action", r.action},
               {"found", r.found},
               {"tokens_in", r.tokens_in},
               {"tokens_out", r.tokens_out},
               {"cost_usd", r.cost_usd},
               {"status", r.status},
               {"prev", prev_}};
    const std::string hash = audit_hash(prev_, j);
    j["hash"] = hash;
    const std::string line = serial(j) + "\n";
    // One write() of the whole line with O_APPEND: concurrent writers never interleave a line.
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        return Error{"audit log: cannot append a record (disk full?)"};
    prev_ = hash;
    ++seq_;
    return {};
}

Result<AuditCheck> verify_audit_log(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot read", ErrorKind::NotFound};
    AuditCheck c;
    std::string prev = kGenesis, line;
    uint64_t n = 0;
    auto fail = [&](const std::string& what) {
        c.error = "line " + std::to_string(n) + ": " + what;
        return c;
    };
    while (std::getline(in, line)) {
        ++n;
        if (line.empty()) return fail("an empty line inside the log");
        ojson j = ojson::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return fail("not a JSON record");
        if (!j.contains("hash") || !j["hash"].is_string() || !j.contains("prev") || !j["prev"].is_string() ||
            !j.contains("seq") || !j["seq"].is_number_unsigned())
            return fail("a record without seq, prev or hash");
        if (j["seq"].get<uint64_t>() != c.records + 1)
            return fail("record " + std::to_string(j["seq"].get<uint64_t>()) + " where record " +
                        std::to_string(c.records + 1) + " belongs: a record was removed or moved");
        if (j["prev"].get<std::string>() != prev)
            return fail("its link to the record before does not match: a record before it was removed or edited");
        const std::string hash = j["hash"].get<std::string>();
        j.erase("hash");
        if (audit_hash(prev, j) != hash) return fail("its hash does not match its contents: the record was edited");
        prev = hash;
        ++c.records;
    }
    return c;
}

}  // namespace tf::router
