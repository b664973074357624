#include <sqlite3.h>

#include <filesystem>
#include <mutex>

#include "pipeline/store.h"

namespace tf::pipeline {

namespace {

class SqliteStore : public JobStore {
  public:
    explicit SqliteStore(sqlite3* db) : db_(db) {}
    ~SqliteStore() override { sqlite3_close(db_); }

    Result<std::optional<JobRecord>> get(const std::string& sha, const std::string& key) override {
        std::lock_guard<std::mutex> lock(mu_);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, "SELECT path, status, output, error FROM results WHERE doc_sha256 = ? AND task_key = ?", -1, &st, nullptr) != SQLITE_OK) {
            return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        }
        sqlite3_bind_text(st, 1, sha.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, key.c_str(), -1, SQLITE_TRANSIENT);
        std::optional<JobRecord> out;
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            auto col = [&](int i) {
                const unsigned char* t = sqlite3_column_text(st, i);
                return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
            };
            out = JobRecord{sha, key, col(0), col(1), col(2), col(3)};
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        return out;
    }

    Status put(const JobRecord& r) override {
        std::lock_guard<std::mutex> lock(mu_);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_,
                               "INSERT OR IGNORE INTO results(doc_sha256, task_key, path, status, output, error, finished_at) "
                               "VALUES (?, ?, ?, ?, ?, ?, strftime('%s','now'))",
                               -1, &st, nullptr) != SQLITE_OK) {
            return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        }
        const std::string* fields[] = {&r.doc_sha256, &r.task_key, &r.path, &r.status, &r.output, &r.error};
        for (int i = 0; i < 6; ++i) sqlite3_bind_text(st, i + 1, fields[i]->c_str(), static_cast<int>(fields[i]->size()), SQLITE_TRANSIENT);
        const int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        return Status::success();
    }

  private:
    sqlite3* db_;
    std::mutex mu_;
};

}  // namespace

Result<std::unique_ptr<JobStore>> open_sqlite_store(const std::string& path) {
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return Error{path + ": cannot open the job store: " + msg};
    }
    sqlite3_busy_timeout(db, 10000);
    const char* schema =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS results("
        "  doc_sha256 TEXT NOT NULL, task_key TEXT NOT NULL, path TEXT, status TEXT NOT NULL,"
        "  output TEXT, error TEXT, finished_at INTEGER,"
        "  PRIMARY KEY (doc_sha256, task_key));";
    char* err = nullptr;
    if (sqlite3_exec(db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        sqlite3_close(db);
        return Error{path + ": not a usable job store: " + msg};
    }
    return std::unique_ptr<JobStore>(std::make_unique<SqliteStore>(db));
}

}  // namespace tf::pipeline
