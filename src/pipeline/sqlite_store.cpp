#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

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
        if (sqlite3_prepare_v2(db_,
                               "SELECT path, status, output, error FROM results WHERE doc_sha256 = ? AND task_key = ?",
                               -1, &st, nullptr) != SQLITE_OK) {
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
        if (sqlite3_prepare_v2(
                db_,
                "INSERT OR IGNORE INTO results(doc_sha256, task_key, path, status, output, error, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, strftime('%s','now'))",
                -1, &st, nullptr) != SQLITE_OK) {
            return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        }
        const std::string* fields[] = {&r.doc_sha256, &r.task_key, &r.path, &r.status, &r.output, &r.error};
        for (int i = 0; i < 6; ++i)
            sqlite3_bind_text(st, i + 1, fields[i]->c_str(), static_cast<int>(fields[i]->size()), SQLITE_TRANSIENT);
        const int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        return Status::success();
    }

    Result<std::optional<std::string>> get_step(const std::string& sha, const std::string& key,
                                                const std::string& step) override {
        std::lock_guard<std::mutex> lock(mu_);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, "SELECT value FROM steps WHERE doc_sha256 = ? AND task_key = ? AND step = ?", -1,
                               &st, nullptr) != SQLITE_OK) {
            return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        }
        sqlite3_bind_text(st, 1, sha.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, key.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, step.c_str(), -1, SQLITE_TRANSIENT);
        std::optional<std::string> out;
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const void* b = sqlite3_column_blob(st, 0);
            out = std::string(b ? static_cast<const char*>(b) : "", static_cast<size_t>(sqlite3_column_bytes(st, 0)));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        return out;
    }

    Status put_step(const std::string& sha, const std::string& key, const std::string& step,
                    const std::string& value) override {
        std::lock_guard<std::mutex> lock(mu_);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_,
                               "INSERT OR IGNORE INTO steps(doc_sha256, task_key, step, value) VALUES (?, ?, ?, ?)", -1,
                               &st, nullptr) != SQLITE_OK) {
            return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        }
        sqlite3_bind_text(st, 1, sha.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, key.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, step.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 4, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
        const int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        return Status::success();
    }

    Status record_run(RunRecord& r) override {
        std::lock_guard<std::mutex> lock(mu_);
        sqlite3_stmt* st = nullptr;
        const char* sql =
            r.id == 0
                ? "INSERT INTO runs(started_at, task, model_sha256, model_name, documents, computed, errors, "
                  "tokens_in, tokens_out, wall_seconds, cpu_seconds, energy_wh, energy_source, remote_tokens_in, "
                  "remote_tokens_out, remote_usd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                : "UPDATE runs SET started_at = ?, task = ?, model_sha256 = ?, model_name = ?, documents = ?, computed "
                  "= ?, errors = ?, tokens_in = ?, tokens_out = ?, wall_seconds = ?, cpu_seconds = ?, energy_wh = ?, "
                  "energy_source = ?, remote_tokens_in = ?, remote_tokens_out = ?, remote_usd = ? WHERE rowid = ?";
        if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
            return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        }
        if (r.id != 0) sqlite3_bind_int64(st, 17, r.id);
        sqlite3_bind_int64(st, 1, r.started_at);
        sqlite3_bind_text(st, 2, r.task.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, r.model_sha256.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, r.model_name.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, r.documents);
        sqlite3_bind_int64(st, 6, r.computed);
        sqlite3_bind_int64(st, 7, r.errors);
        sqlite3_bind_int64(st, 8, r.tokens_in);
        sqlite3_bind_int64(st, 9, r.tokens_out);
        sqlite3_bind_double(st, 10, r.wall_seconds);
        sqlite3_bind_double(st, 11, r.cpu_seconds);
        sqlite3_bind_double(st, 12, r.energy_wh);
        sqlite3_bind_text(st, 13, r.energy_source.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 14, r.remote_tokens_in);
        sqlite3_bind_int64(st, 15, r.remote_tokens_out);
        sqlite3_bind_double(st, 16, r.remote_usd);
        const int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        if (r.id == 0) r.id = sqlite3_last_insert_rowid(db_);
        return Status::success();
    }

    Result<std::vector<RunRecord>> runs() override {
        std::lock_guard<std::mutex> lock(mu_);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_,
                               "SELECT started_at, task, model_sha256, model_name, documents, computed, errors, "
                               "tokens_in, tokens_out, "
                               "wall_seconds, cpu_seconds, energy_wh, energy_source, remote_tokens_in, "
                               "remote_tokens_out, remote_usd FROM runs ORDER BY started_at",
                               -1, &st, nullptr) != SQLITE_OK) {
            return Error{std::string("job store: ") + sqlite3_errmsg(db_)};
        }
        std::vector<RunRecord> out;
        auto text = [&](int i) {
            const unsigned char* t = sqlite3_column_text(st, i);
            return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
        };
        while (sqlite3_step(st) == SQLITE_ROW) {
            RunRecord r;
            r.started_at = sqlite3_column_int64(st, 0);
            r.task = text(1);
            r.model_sha256 = text(2);
            r.model_name = text(3);
            r.documents = sqlite3_column_int64(st, 4);
            r.computed = sqlite3_column_int64(st, 5);
            r.errors = sqlite3_column_int64(st, 6);
            r.tokens_in = sqlite3_column_int64(st, 7);
            r.tokens_out = sqlite3_column_int64(st, 8);
            r.wall_seconds = sqlite3_column_double(st, 9);
            r.cpu_seconds = sqlite3_column_double(st, 10);
            r.energy_wh = sqlite3_column_double(st, 11);
            r.energy_source = text(12);
            r.remote_tokens_in = sqlite3_column_int64(st, 13);
            r.remote_tokens_out = sqlite3_column_int64(st, 14);
            r.remote_usd = sqlite3_column_double(st, 15);
            out.push_back(std::move(r));
        }
        sqlite3_finalize(st);
        return out;
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
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
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
        "  PRIMARY KEY (doc_sha256, task_key));"
        "CREATE TABLE IF NOT EXISTS runs("
        "  started_at INTEGER, task TEXT, model_sha256 TEXT, model_name TEXT, documents INTEGER, computed INTEGER,"
        "  errors INTEGER, tokens_in INTEGER, tokens_out INTEGER, wall_seconds REAL, cpu_seconds REAL, energy_wh REAL,"
        "  energy_source TEXT);"
        "CREATE TABLE IF NOT EXISTS steps("
        "  doc_sha256 TEXT NOT NULL, task_key TEXT NOT NULL, step TEXT NOT NULL, value BLOB,"
        "  PRIMARY KEY (doc_sha256, task_key, step));";
    // Two runs opening a new store at once race to switch it to WAL mode; SQLite answers the loser
    // SQLITE_BUSY at once, without its busy handler (seen under the sanitizers' slower start-up).
    // Every statement here is idempotent, so the loser retries for as long as the busy timeout.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        char* err = nullptr;
        const int rc = sqlite3_exec(db, schema, nullptr, nullptr, &err);
        if (rc == SQLITE_OK) break;
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        const int primary = rc & 0xff;
        if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        sqlite3_close(db);
        return Error{path + ": not a usable job store: " + msg};
    }
    // Stores made before routing lack the remote columns: added (two openers may race to add
    // one; the loser's "duplicate column" is the same outcome).
    for (const char* column : {"remote_tokens_in INTEGER NOT NULL DEFAULT 0",
                               "remote_tokens_out INTEGER NOT NULL DEFAULT 0", "remote_usd REAL NOT NULL DEFAULT 0"}) {
        const std::string name = std::string(column).substr(0, std::string(column).find(' '));
        sqlite3_stmt* st = nullptr;
        bool present = false;
        if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('runs')", -1, &st, nullptr) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW)
                present = present || name == reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        if (present) continue;
        char* err = nullptr;
        const std::string sql = std::string("ALTER TABLE runs ADD COLUMN ") + column;
        if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            const std::string msg = err ? err : "unknown error";
            sqlite3_free(err);
            if (msg.find("duplicate column") == std::string::npos) {
                sqlite3_close(db);
                return Error{path + ": cannot add the column " + name + " to the ledger: " + msg};
            }
        }
    }
    return std::unique_ptr<JobStore>(std::make_unique<SqliteStore>(db));
}

}  // namespace tf::pipeline
