// The job store and queue on PostgreSQL (libpq). Every statement is one autocommitted
// statement or a transaction that can run again after a lost connection (inserts that keep an
// existing row, updates fenced by the lease), so a restart of the database or a cut connection
// costs a retry, never a result counted twice or lost.
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "pipeline/store.h"

namespace tf::pipeline {

namespace {

// A statement's parameter: text, binary (bytea), or NULL.
struct Param {
    std::string value;
    bool binary = false;
    bool null = false;
};
Param text(std::string v) {
    return Param{std::move(v), false, false};
}
Param bytes(std::string v) {
    return Param{std::move(v), true, false};
}
Param number(int64_t v) {
    return Param{std::to_string(v), false, false};
}
Param real(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.17g", v);
    return Param{b, false, false};
}
// A PostgreSQL array literal of strings: {"a","b"} with " and \ escaped.
Param text_array(const std::vector<std::string>& v) {
    std::string s = "{";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) s += ',';
        s += '"';
        for (char c : v[i]) {
            if (c == '"' || c == '\\') s += '\\';
            s += c;
        }
        s += '"';
    }
    return text(s + "}");
}
Param int_array(const std::vector<int64_t>& v) {
    std::string s = "{";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return text(s + "}");
}

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

// libpq's messages span lines ("…\n\tIs the server running…"): one line for a log.
std::string one_line(std::string m) {
    std::string out;
    for (char c : m) {
        if (c == '\n' || c == '\t') {
            if (!out.empty() && out.back() != ' ') out += ' ';
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// One connection, used by one thread at a time. A statement that fails because the connection
// broke (the server restarted, the network went, an administrator ended it) is run again on a
// new connection, for up to `reconnect_seconds`.
class Connection {
  public:
    Connection(std::string url, std::string name) : url_(std::move(url)), name_(std::move(name)) {}
    ~Connection() {
        if (conn_) PQfinish(conn_);
    }

    Status connect() {
        if (conn_) PQfinish(conn_);
        const char* keys[] = {"dbname", "application_name", "connect_timeout", nullptr};
        const char* values[] = {url_.c_str(), name_.c_str(), "10", nullptr};
        conn_ = PQconnectdbParams(keys, values, 1);
        if (conn_ == nullptr) return Error{"job store: out of memory connecting to PostgreSQL"};
        if (PQstatus(conn_) != CONNECTION_OK) return Error{"job store: cannot connect: " + last_error()};
        PQsetNoticeProcessor(
            conn_, [](void*, const char*) {}, nullptr);  // "relation exists, skipping"
        return Status::success();
    }

    // Runs `sql` with `params` ($1…); binary_result asks for binary columns (bytea as bytes).
    Result<PgResult> exec(const std::string& sql, const std::vector<Param>& params, bool binary_result = false) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(reconnect_seconds);
        int delay_ms = 100;
        for (;;) {
            std::string failure;
            if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
                if (Status st = connect(); !st) failure = st.error().message;
            }
            if (failure.empty()) {
                PgResult r = run(sql, params, binary_result);
                const ExecStatusType s = PQresultStatus(r.get());
                if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
                    if (lost_) {
                        std::fprintf(stderr, "terraferma: job store: connection back\n");
                        lost_ = false;
                    }
                    return r;
                }
                const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
                const std::string code = state ? state : "";
                failure = one_line(PQresultErrorMessage(r.get()));
                // 08: connection exceptions; 57P01-03: the server shutting down or not ready;
                // 40001/40P01: serialization failure and deadlock, which a retry resolves.
                const bool retry = PQstatus(conn_) != CONNECTION_OK || code.rfind("08", 0) == 0 || code == "57P01" ||
                                   code == "57P02" || code == "57P03" || code == "40001" || code == "40P01";
                if (!retry) return Error{"job store: " + failure};
                if (in_transaction_) {
                    // The transaction is gone with the connection; the caller runs it again.
                    return Error{"job store: " + failure, ErrorKind::Unavailable};
                }
            }
            if (std::chrono::steady_clock::now() >= deadline)
                return Error{
                    "job store: PostgreSQL unreachable for " + std::to_string(reconnect_seconds) + " s: " + failure,
                    ErrorKind::Unavailable};
            if (!lost_) {
                std::fprintf(stderr, "terraferma: %s; reconnecting\n", failure.c_str());
                lost_ = true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
            delay_ms = std::min(delay_ms * 2, 2000);
        }
    }

    // Runs `body` between BEGIN and COMMIT, all of it again when the connection broke on the way.
    template <typename Body>
    auto transaction(Body body) -> decltype(body()) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(reconnect_seconds);
        for (;;) {
            if (auto b = exec("BEGIN", {}); !b) return b.error();
            in_transaction_ = true;
            auto r = body();
            if (r) {
                if (auto c = exec("COMMIT", {}); !c) r = c.error();
            }
            in_transaction_ = false;
            if (r) return r;
            if (conn_ && PQstatus(conn_) == CONNECTION_OK) (void)exec("ROLLBACK", {});
            if (r.error().kind != ErrorKind::Unavailable || std::chrono::steady_clock::now() >= deadline) return r;
        }
    }

    int reconnect_seconds = 120;

  private:
    PgResult run(const std::string& sql, const std::vector<Param>& params, bool binary_result) {
        // Without parameters, the simple protocol: it runs several statements (a migration).
        if (params.empty() && !binary_result) return PgResult(PQexec(conn_, sql.c_str()), &PQclear);
        std::vector<const char*> values;
        std::vector<int> lengths, formats;
        for (const Param& p : params) {
            values.push_back(p.null ? nullptr : p.value.data());
            lengths.push_back(static_cast<int>(p.value.size()));
            formats.push_back(p.binary ? 1 : 0);
        }
        return PgResult(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                     lengths.data(), formats.data(), binary_result ? 1 : 0),
                        &PQclear);
    }
    std::string last_error() const { return conn_ ? one_line(PQerrorMessage(conn_)) : "no connection"; }

    std::string url_, name_;
    PGconn* conn_ = nullptr;
    bool lost_ = false, in_transaction_ = false;
};

std::string col(const PgResult& r, int row, int c) {
    if (PQgetisnull(r.get(), row, c)) return {};
    return std::string(PQgetvalue(r.get(), row, c), static_cast<size_t>(PQgetlength(r.get(), row, c)));
}
int64_t col_int(const PgResult& r, int row, int c) {
    return std::strtoll(PQgetvalue(r.get(), row, c), nullptr, 10);
}
double col_real(const PgResult& r, int row, int c) {
    return std::strtod(PQgetvalue(r.get(), row, c), nullptr);
}

// Versioned schema: migration i brings the schema from version i to i + 1. Never edit one that
// has shipped; add the next.
const char* const kMigrations[] = {
    // 1: results, steps and the ledger as in SQLite, plus the shared queue.
    "CREATE TABLE results("
    "  doc_sha256 text NOT NULL, task_key text NOT NULL, path text, status text NOT NULL,"
    "  output text, error text, finished_at timestamptz NOT NULL DEFAULT now(), worker text,"
    "  PRIMARY KEY (doc_sha256, task_key));"
    "CREATE TABLE steps("
    "  doc_sha256 text NOT NULL, task_key text NOT NULL, step text NOT NULL, value bytea,"
    "  PRIMARY KEY (doc_sha256, task_key, step));"
    "CREATE TABLE runs("
    "  id bigserial PRIMARY KEY, started_at bigint, task text, model_sha256 text, model_name text,"
    "  documents bigint, computed bigint, errors bigint, tokens_in bigint, tokens_out bigint,"
    "  wall_seconds double precision, cpu_seconds double precision, energy_wh double precision,"
    "  energy_source text, remote_tokens_in bigint NOT NULL DEFAULT 0,"
    "  remote_tokens_out bigint NOT NULL DEFAULT 0, remote_usd double precision NOT NULL DEFAULT 0);"
    "CREATE TABLE documents(sha256 text PRIMARY KEY, bytes bytea NOT NULL);"
    "CREATE TABLE jobs("
    "  id bigserial PRIMARY KEY, doc_sha256 text NOT NULL, task_key text NOT NULL, path text NOT NULL,"
    "  kind text NOT NULL, model_sha256 text NOT NULL, task text NOT NULL,"
    "  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'leased', 'done')),"
    "  lease text, lease_until timestamptz, attempts integer NOT NULL DEFAULT 0,"
    "  enqueued_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,"
    "  UNIQUE (doc_sha256, task_key));"
    // Claims look for the oldest waiting job of a model: only unfinished rows are indexed.
    "CREATE INDEX jobs_waiting ON jobs(model_sha256, id) WHERE state <> 'done';",
};
constexpr int kSchemaVersion = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);

Status migrate(Connection& c) {
    if (auto r = c.exec("CREATE TABLE IF NOT EXISTS terraferma_schema(version integer NOT NULL)", {}); !r)
        return r.error();
    return c.transaction([&]() -> Status {
        // One opener migrates at a time; the others wait here and then find it done.
        if (auto r = c.exec("SELECT pg_advisory_xact_lock(7271502803)", {}); !r) return r.error();
        auto v = c.exec("SELECT coalesce(max(version), 0) FROM terraferma_schema", {});
        if (!v) return v.error();
        const int version = static_cast<int>(col_int(*v, 0, 0));
        if (version > kSchemaVersion)
            return Error{"job store: the database's schema is version " + std::to_string(version) +
                         ", newer than this terraferma knows (" + std::to_string(kSchemaVersion) +
                         "); use a newer terraferma"};
        for (int i = version; i < kSchemaVersion; ++i) {
            if (auto r = c.exec(kMigrations[i], {}); !r)
                return Error{r.error().message + " (migrating the schema to version " + std::to_string(i + 1) + ")"};
        }
        if (version < kSchemaVersion) {
            if (auto r = c.exec("DELETE FROM terraferma_schema", {}); !r) return r.error();
            if (auto r = c.exec("INSERT INTO terraferma_schema(version) VALUES ($1)", {number(kSchemaVersion)}); !r)
                return r.error();
        }
        return Status::success();
    });
}

class PostgresStore : public JobStore, public JobQueue {
  public:
    PostgresStore(const std::string& url, const std::string& name) : c_(url, name), name_(name) {}

    // wait: a database not reachable yet is waited for (as for a lost connection), as a
    // long-running worker should; otherwise it is an error at once.
    Status open(bool wait) {
        if (wait) {
            if (auto r = c_.exec("SELECT 1", {}); !r) return r.error();
        } else if (Status st = c_.connect(); !st) {
            return st;
        }
        return migrate(c_);
    }

    Result<std::optional<JobRecord>> get(const std::string& sha, const std::string& key) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec("SELECT path, status, output, error FROM results WHERE doc_sha256 = $1 AND task_key = $2",
                         {text(sha), text(key)});
        if (!r) return r.error();
        if (PQntuples(r->get()) == 0) return std::optional<JobRecord>();
        return std::optional<JobRecord>(
            JobRecord{sha, key, col(*r, 0, 0), col(*r, 0, 1), col(*r, 0, 2), col(*r, 0, 3)});
    }

    Status put(const JobRecord& rec) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec(
            "INSERT INTO results(doc_sha256, task_key, path, status, output, error, worker) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            {text(rec.doc_sha256), text(rec.task_key), text(rec.path), text(rec.status), text(rec.output),
             text(rec.error), text(name_)});
        if (!r) return r.error();
        return Status::success();
    }

    Result<std::optional<std::string>> get_step(const std::string& sha, const std::string& key,
                                                const std::string& step) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec("SELECT value FROM steps WHERE doc_sha256 = $1 AND task_key = $2 AND step = $3",
                         {text(sha), text(key), text(step)}, true);
        if (!r) return r.error();
        if (PQntuples(r->get()) == 0) return std::optional<std::string>();
        return std::optional<std::string>(col(*r, 0, 0));
    }

    Status put_step(const std::string& sha, const std::string& key, const std::string& step,
                    const std::string& value) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec(
            "INSERT INTO steps(doc_sha256, task_key, step, value) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            {text(sha), text(key), text(step), bytes(value)});
        if (!r) return r.error();
        return Status::success();
    }

    Status record_run(RunRecord& run) override {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<Param> p = {number(run.started_at),
                                text(run.task),
                                text(run.model_sha256),
                                text(run.model_name),
                                number(run.documents),
                                number(run.computed),
                                number(run.errors),
                                number(run.tokens_in),
                                number(run.tokens_out),
                                real(run.wall_seconds),
                                real(run.cpu_seconds),
                                real(run.energy_wh),
                                text(run.energy_source),
                                number(run.remote_tokens_in),
                                number(run.remote_tokens_out),
                                real(run.remote_usd)};
        if (run.id == 0) {
            auto r = c_.exec(
                "INSERT INTO runs(started_at, task, model_sha256, model_name, documents, computed, errors, tokens_in, "
                "tokens_out, wall_seconds, cpu_seconds, energy_wh, energy_source, remote_tokens_in, remote_tokens_out, "
                "remote_usd) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) RETURNING id",
                p);
            if (!r) return r.error();
            run.id = col_int(*r, 0, 0);
            return Status::success();
        }
        p.push_back(number(run.id));
        auto r = c_.exec(
            "UPDATE runs SET started_at = $1, task = $2, model_sha256 = $3, model_name = $4, documents = $5, "
            "computed = $6, errors = $7, tokens_in = $8, tokens_out = $9, wall_seconds = $10, cpu_seconds = $11, "
            "energy_wh = $12, energy_source = $13, remote_tokens_in = $14, remote_tokens_out = $15, remote_usd = $16 "
            "WHERE id = $17",
            p);
        if (!r) return r.error();
        return Status::success();
    }

    Result<std::vector<RunRecord>> runs() override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec(
            "SELECT id, started_at, task, model_sha256, model_name, documents, computed, errors, tokens_in, "
            "tokens_out, wall_seconds, cpu_seconds, energy_wh, energy_source, remote_tokens_in, remote_tokens_out, "
            "remote_usd FROM runs ORDER BY started_at, id",
            {});
        if (!r) return r.error();
        std::vector<RunRecord> out;
        for (int i = 0; i < PQntuples(r->get()); ++i) {
            RunRecord x;
            x.id = col_int(*r, i, 0);
            x.started_at = col_int(*r, i, 1);
            x.task = col(*r, i, 2);
            x.model_sha256 = col(*r, i, 3);
            x.model_name = col(*r, i, 4);
            x.documents = col_int(*r, i, 5);
            x.computed = col_int(*r, i, 6);
            x.errors = col_int(*r, i, 7);
            x.tokens_in = col_int(*r, i, 8);
            x.tokens_out = col_int(*r, i, 9);
            x.wall_seconds = col_real(*r, i, 10);
            x.cpu_seconds = col_real(*r, i, 11);
            x.energy_wh = col_real(*r, i, 12);
            x.energy_source = col(*r, i, 13);
            x.remote_tokens_in = col_int(*r, i, 14);
            x.remote_tokens_out = col_int(*r, i, 15);
            x.remote_usd = col_real(*r, i, 16);
            out.push_back(std::move(x));
        }
        return out;
    }

    Result<int64_t> enqueue(const std::vector<QueuedDocument>& docs) override {
        std::lock_guard<std::mutex> lock(mu_);
        return c_.transaction([&]() -> Result<int64_t> {
            int64_t added = 0;
            for (const QueuedDocument& d : docs) {
                auto done = c_.exec("SELECT 1 FROM results WHERE doc_sha256 = $1 AND task_key = $2",
                                    {text(d.doc_sha256), text(d.task_key)});
                if (!done) return done.error();
                if (PQntuples(done->get()) > 0) continue;
                if (auto r = c_.exec("INSERT INTO documents(sha256, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                     {text(d.doc_sha256), bytes(d.bytes)});
                    !r)
                    return r.error();
                auto r = c_.exec(
                    "INSERT INTO jobs(doc_sha256, task_key, path, kind, model_sha256, task) "
                    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    {text(d.doc_sha256), text(d.task_key), text(d.path), text(d.kind), text(d.model_sha256),
                     text(d.task_json)});
                if (!r) return r.error();
                added += std::strtoll(PQcmdTuples(r->get()), nullptr, 10);
            }
            return added;
        });
    }

    Result<std::optional<ClaimedJob>> claim(const std::string& owner, const std::string& model_sha,
                                            const std::vector<std::string>& kinds, const std::vector<int64_t>& skip,
                                            double lease_seconds) override {
        std::lock_guard<std::mutex> lock(mu_);
        const std::string lease = owner + "#" + std::to_string(++claims_);
        auto r = c_.exec(
            "UPDATE jobs SET state = 'leased', lease = $1, lease_until = now() + make_interval(secs => $2), "
            "attempts = attempts + 1 WHERE id = ("
            "  SELECT id FROM jobs WHERE model_sha256 = $3 AND state <> 'done'"
            "    AND (state = 'queued' OR lease_until < now())"
            "    AND (cardinality($4::text[]) = 0 OR kind = ANY($4::text[])) AND NOT (id = ANY($5::bigint[]))"
            "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "RETURNING id, attempts, doc_sha256, task_key, path, kind, task",
            {text(lease), real(lease_seconds), text(model_sha), text_array(kinds), int_array(skip)});
        if (!r) return r.error();
        if (PQntuples(r->get()) == 0) return std::optional<ClaimedJob>();
        ClaimedJob j;
        j.id = col_int(*r, 0, 0);
        j.attempts = static_cast<int>(col_int(*r, 0, 1));
        j.lease = lease;
        j.doc =
            QueuedDocument{col(*r, 0, 2), col(*r, 0, 3), col(*r, 0, 4), col(*r, 0, 5), model_sha, col(*r, 0, 6), ""};
        auto b = c_.exec("SELECT bytes FROM documents WHERE sha256 = $1", {text(j.doc.doc_sha256)}, true);
        if (!b) return b.error();
        if (PQntuples(b->get()) == 0) return Error{"job store: the bytes of " + j.doc.path + " are missing"};
        j.doc.bytes = col(*b, 0, 0);
        return std::optional<ClaimedJob>(std::move(j));
    }

    Result<int64_t> heartbeat(const std::vector<std::string>& leases, double lease_seconds) override {
        std::lock_guard<std::mutex> lock(mu_);
        if (leases.empty()) return int64_t{0};
        auto r = c_.exec(
            "UPDATE jobs SET lease_until = now() + make_interval(secs => $1) "
            "WHERE state = 'leased' AND lease = ANY($2::text[])",
            {real(lease_seconds), text_array(leases)});
        if (!r) return r.error();
        return std::strtoll(PQcmdTuples(r->get()), nullptr, 10);
    }

    Result<bool> complete(const ClaimedJob& job, const JobRecord& rec) override {
        std::lock_guard<std::mutex> lock(mu_);
        // One statement: the job is finished and its result stored together, or neither when
        // the lease moved on. Run again after a lost connection, a finished job is no longer
        // leased and nothing is written twice.
        auto r = c_.exec(
            "WITH held AS (UPDATE jobs SET state = 'done', finished_at = now(), lease_until = NULL "
            "  WHERE id = $1 AND lease = $2 AND state = 'leased' RETURNING id) "
            "INSERT INTO results(doc_sha256, task_key, path, status, output, error, worker) "
            "SELECT $3, $4, $5, $6, $7, $8, $9 FROM held ON CONFLICT DO NOTHING",
            {number(job.id), text(job.lease), text(rec.doc_sha256), text(rec.task_key), text(rec.path),
             text(rec.status), text(rec.output), text(rec.error), text(name_)});
        if (!r) return r.error();
        // Whether the job was held: the insert may have kept an existing result (a local run
        // stored it meanwhile), so the job row is asked.
        auto held =
            c_.exec("SELECT lease = $2 AND state = 'done' FROM jobs WHERE id = $1", {number(job.id), text(job.lease)});
        if (!held) return held.error();
        return PQntuples(held->get()) == 1 && col(*held, 0, 0) == "t";
    }

    Status release(const ClaimedJob& job) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec(
            "UPDATE jobs SET state = 'queued', lease = NULL, lease_until = NULL "
            "WHERE id = $1 AND lease = $2 AND state = 'leased'",
            {number(job.id), text(job.lease)});
        if (!r) return r.error();
        return Status::success();
    }

    Result<int64_t> unfinished(const std::string& model_sha) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec("SELECT count(*) FROM jobs WHERE model_sha256 = $1 AND state <> 'done'", {text(model_sha)});
        if (!r) return r.error();
        return col_int(*r, 0, 0);
    }

    Result<std::vector<JobRecord>> stored(const std::vector<std::string>& shas,
                                          const std::vector<std::string>& keys) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = c_.exec(
            "SELECT r.doc_sha256, r.task_key, r.path, r.status, r.output, r.error FROM results r "
            "JOIN unnest($1::text[], $2::text[]) AS w(sha, key) ON r.doc_sha256 = w.sha AND r.task_key = w.key",
            {text_array(shas), text_array(keys)});
        if (!r) return r.error();
        std::vector<JobRecord> out;
        for (int i = 0; i < PQntuples(r->get()); ++i)
            out.push_back({col(*r, i, 0), col(*r, i, 1), col(*r, i, 2), col(*r, i, 3), col(*r, i, 4), col(*r, i, 5)});
        return out;
    }

  private:
    Connection c_;
    std::string name_;
    std::mutex mu_;
    uint64_t claims_ = 0;
};

Result<std::unique_ptr<PostgresStore>> open_postgres(const std::string& url, const std::string& name, bool wait) {
    auto s = std::make_unique<PostgresStore>(url, name);
    if (Status st = s->open(wait); !st) return st.error();
    return s;
}

}  // namespace

bool is_postgres_url(const std::string& spec) {
    return spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<JobStore>> open_postgres_store(const std::string& url, const std::string& name, bool wait) {
    auto s = open_postgres(url, name, wait);
    if (!s) return s.error();
    return std::unique_ptr<JobStore>(std::move(*s));
}

Result<std::unique_ptr<JobQueue>> open_postgres_queue(const std::string& url, const std::string& name, bool wait) {
    auto s = open_postgres(url, name, wait);
    if (!s) return s.error();
    return std::unique_ptr<JobQueue>(std::move(*s));
}

Result<std::unique_ptr<JobStore>> open_store(const std::string& spec) {
    if (is_postgres_url(spec)) return open_postgres_store(spec);
    return open_sqlite_store(spec);
}

}  // namespace tf::pipeline
