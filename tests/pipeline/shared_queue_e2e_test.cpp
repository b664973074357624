// The shared job store on a real PostgreSQL (started per test, see support/postgres.h): the
// store and queue contract (migrations, leases, fencing) through the library, then end to end
// with the real binary — three workers over 200 documents with ten SIGKILLs and a database
// restart give exactly the results of a single-process SQLite run, and a worker cut off from the
// database while it computes stores nothing it no longer owns.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "pipeline/store.h"
#include "support/files.h"
#include "support/postgres.h"
#include "support/reference.h"
#include "support/run.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using tf::test::slurp;
using tf::test::spawn_terraferma;

struct TempDir : tf::test::TempDir {
    TempDir() : tf::test::TempDir("tf-queue-") {}
};
using tf::pipeline::ClaimedJob;
using tf::pipeline::JobRecord;
using tf::pipeline::QueuedDocument;

#define START_POSTGRES(pg)                       \
    tf::test::TestPostgres pg;                   \
    do {                                         \
        std::string why;                         \
        if (!pg.start(why)) GTEST_SKIP() << why; \
    } while (0)

template <typename F>
bool wait_for(F cond, int seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return cond();
}

QueuedDocument doc(const std::string& name) {
    return QueuedDocument{"sha-" + name, "key", name + ".txt", "extract", "model", "{}", "bytes of " + name};
}

// Through the library: the schema is made once (and a newer one refused), results keep the first
// writer's, a lease that ran out goes to another worker, and only the lease holder stores.
TEST(SharedStore, migrations_leases_and_fencing) {
    START_POSTGRES(pg);
    auto store = tf::pipeline::open_store(pg.url());
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(pg.query("SELECT version FROM terraferma_schema"), "1");
    // A second opener finds the schema there; results, steps and the ledger behave as in SQLite.
    auto again = tf::pipeline::open_store(pg.url());
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(pg.count("SELECT count(*) FROM terraferma_schema"), 1);
    ASSERT_TRUE((*store)->put(JobRecord{"d1", "k", "a.txt", "ok", "{\"x\":1}", ""}));
    ASSERT_TRUE((*again)->put(JobRecord{"d1", "k", "b.txt", "ok", "{\"x\":2}", ""}));
    auto got = (*again)->get("d1", "k");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->output, "{\"x\":1}");
    const std::string binary("step\0value\xff", 11);
    ASSERT_TRUE((*store)->put_step("d1", "k", "chunk 1", binary));
    auto step = (*again)->get_step("d1", "k", "chunk 1");
    ASSERT_TRUE(step && step->has_value());
    EXPECT_EQ(**step, binary);
    tf::pipeline::RunRecord run;
    run.task = "extract";
    run.tokens_in = 12;
    ASSERT_TRUE((*store)->record_run(run));
    run.tokens_in = 40;
    ASSERT_TRUE((*store)->record_run(run));
    auto runs = (*again)->runs();
    ASSERT_TRUE(runs);
    ASSERT_EQ(runs->size(), 1u);
    EXPECT_EQ((*runs)[0].tokens_in, 40);

    auto q1 = tf::pipeline::open_postgres_queue(pg.url(), "w1");
    auto q2 = tf::pipeline::open_postgres_queue(pg.url(), "w2");
    ASSERT_TRUE(q1 && q2);
    auto added = (*q1)->enqueue({doc("a"), doc("b")});
    ASSERT_TRUE(added);
    EXPECT_EQ(*added, 2);
    auto twice = (*q2)->enqueue({doc("a")});  // already queued
    ASSERT_TRUE(twice);
    EXPECT_EQ(*twice, 0);
    auto a1 = (*q1)->claim("w1", "model", {}, {}, 1.0);
    ASSERT_TRUE(a1 && a1->has_value());
    EXPECT_EQ((*a1)->doc.path, "a.txt");
    EXPECT_EQ((*a1)->doc.bytes, "bytes of a");
    auto b2 = (*q2)->claim("w2", "model", {}, {}, 30.0);  // a is leased: w2 gets b
    ASSERT_TRUE(b2 && b2->has_value());
    EXPECT_EQ((*b2)->doc.path, "b.txt");
    auto none = (*q2)->claim("w2", "model", {}, {}, 30.0);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    auto other_model = (*q2)->claim("w2", "another model", {}, {}, 30.0);
    ASSERT_TRUE(other_model);
    EXPECT_FALSE(other_model->has_value());
    // w1's lease on a runs out without a heartbeat: w2 takes a over.
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    auto a2 = (*q2)->claim("w2", "model", {"extract"}, {}, 30.0);
    ASSERT_TRUE(a2 && a2->has_value());
    EXPECT_EQ((*a2)->id, (*a1)->id);
    EXPECT_EQ((*a2)->attempts, 2);
    EXPECT_NE((*a2)->lease, (*a1)->lease);
    // w1 comes back with its result: refused, nothing written.
    const JobRecord late{"sha-a", "key", "a.txt", "ok", "{\"by\":\"w1\"}", ""};
    auto stale = (*q1)->complete(**a1, late);
    ASSERT_TRUE(stale);
    EXPECT_FALSE(*stale);
    EXPECT_EQ(pg.count("SELECT count(*) FROM results WHERE doc_sha256 = 'sha-a'"), 0);
    auto beat = (*q1)->heartbeat({(*a1)->lease}, 30.0);
    ASSERT_TRUE(beat);
    EXPECT_EQ(*beat, 0);
    // The holder stores; run again (a lost reply), nothing is written twice.
    const JobRecord mine{"sha-a", "key", "a.txt", "ok", "{\"by\":\"w2\"}", ""};
    auto stored = (*q2)->complete(**a2, mine);
    ASSERT_TRUE(stored);
    EXPECT_TRUE(*stored);
    auto repeated = (*q2)->complete(**a2, mine);
    ASSERT_TRUE(repeated);
    EXPECT_EQ(pg.query("SELECT output || '|' || worker FROM results WHERE doc_sha256 = 'sha-a'"), "{\"by\":\"w2\"}|w2");
    // A released job is claimable at once; stored results are not queued again.
    ASSERT_TRUE((*q2)->release(**b2));
    auto b1 = (*q1)->claim("w1", "model", {}, {}, 30.0);
    ASSERT_TRUE(b1 && b1->has_value());
    EXPECT_EQ((*b1)->doc.path, "b.txt");
    auto left = (*q1)->unfinished("model");
    ASSERT_TRUE(left);
    EXPECT_EQ(*left, 1);
    auto requeued = (*q1)->enqueue({doc("a")});
    ASSERT_TRUE(requeued);
    EXPECT_EQ(*requeued, 0);

    // A database made by a newer terraferma is refused with a message saying so.
    pg.query("UPDATE terraferma_schema SET version = 99");
    auto newer = tf::pipeline::open_store(pg.url());
    ASSERT_FALSE(newer);
    EXPECT_NE(newer.error().message.find("newer than this terraferma"), std::string::npos) << newer.error().message;
}

TEST(SharedStore, an_unreachable_database_is_a_clear_error) {
    const int port = tf::test::free_port();
    auto r = tf::test::run_terraferma(
        {"report", "--store",
         "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/postgres?connect_timeout=2"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("job store: cannot connect"), std::string::npos) << r.err;
    auto w = tf::test::run_terraferma({"worker", "-m", "x.gguf", "--store", "/tmp/jobs.sqlite"});
    EXPECT_EQ(w.exit_code, 2) << w.err;
    EXPECT_NE(w.err.find("postgresql://"), std::string::npos) << w.err;
}

std::vector<std::string> extract_args(const std::string& model, const fs::path& schema, const std::string& store,
                                      const std::string& ctx, const fs::path& in) {
    return {"extract", "-m", model, "--schema", schema.string(), "--store", store,
            "-t",      "1",  "-c",  ctx,        "--max-output",  "64",      in.string()};
}

// 3 workers, 200 documents, 10 SIGKILLs of workers at points of the work and one immediate
// restart of PostgreSQL: exactly 200 results, byte-identical to a single-process SQLite run.
TEST(SharedQueueE2E, workers_killed_and_a_database_restart_end_with_a_local_runs_results) {
    TF_REQUIRE_REFERENCE();
    START_POSTGRES(pg);
    TempDir tmp;
    fs::create_directories(tmp.path / "in");
    for (int i = 0; i < 200; ++i) {
        std::ofstream(tmp.path / "in" / ("doc" + std::to_string(1000 + i) + ".txt"))
            << "Invoice " << i << " from supplier " << (i * 7919 % 101) << ", issued in " << (1950 + i)
            << ".\n\nTotal due: " << i * 13 << " EUR.";
    }
    const fs::path schema = tmp.path / "schema.json";
    std::ofstream(schema)
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100},"paid":{"type":"boolean"}},"required":["year","paid"],"additionalProperties":false})";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();

    auto clean_args = extract_args(model, schema, (tmp.path / "clean.sqlite").string(), "1024", tmp.path / "in");
    clean_args.insert(clean_args.end(), {"-o", (tmp.path / "clean.jsonl").string()});
    auto clean = tf::test::run_terraferma(clean_args);
    ASSERT_EQ(clean.exit_code, 0) << clean.err;
    const std::string expected = slurp(tmp.path / "clean.jsonl");

    auto submit = extract_args(model, schema, pg.url(), "1024", tmp.path / "in");
    submit.push_back("--enqueue");
    auto queued = tf::test::run_terraferma(submit);
    ASSERT_EQ(queued.exit_code, 0) << queued.err;
    EXPECT_NE(queued.err.find("200 queued"), std::string::npos) << queued.err;
    EXPECT_EQ(pg.count("SELECT count(*) FROM jobs WHERE state = 'queued'"), 200);

    int spawned = 0;
    std::map<pid_t, fs::path> logs;  // each worker's own
    auto start_worker = [&] {
        const std::string name = "w" + std::to_string(++spawned);
        const pid_t pid = spawn_terraferma({"worker", "-m", model, "--store", pg.url(), "-t", "1", "--lease", "2",
                                            "--poll", "0.1", "--until-empty", "-q", "--name", name},
                                           tmp.path / (name + ".log"));
        logs[pid] = tmp.path / (name + ".log");
        return pid;
    };
    std::vector<pid_t> workers = {start_worker(), start_worker(), start_worker()};
    for (pid_t p : workers) ASSERT_GT(p, 0);
    std::mt19937 rng(11);
    int kills = 0;
    bool restarted = false;
    while (kills < 10) {
        const long before = pg.count("SELECT count(*) FROM results");
        const long target = before + 1 + static_cast<long>(rng() % 8);
        ASSERT_TRUE(wait_for([&] { return pg.count("SELECT count(*) FROM results") >= target; }, 300))
            << "no progress: " << slurp(logs[workers[0]]) << slurp(logs[workers[1]]) << slurp(logs[workers[2]]);
        ASSERT_LT(pg.count("SELECT count(*) FROM results"), 200) << "the work ended before ten kills";
        const size_t victim = rng() % workers.size();
        ::kill(workers[victim], SIGKILL);
        int status = 0;
        ::waitpid(workers[victim], &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status)) << "a worker ended by itself (" << status
                                         << "): " << slurp(logs[workers[victim]]);
        ++kills;
        workers[victim] = start_worker();
        if (kills == 5 && !restarted) {
            ASSERT_TRUE(pg.restart()) << pg.log("server.log");
            restarted = true;
        }
    }
    for (pid_t p : workers) {
        int status = 0;
        ::waitpid(p, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ": " << slurp(logs[p]);
    }
    EXPECT_EQ(pg.count("SELECT count(*) FROM results"), 200);
    EXPECT_EQ(pg.count("SELECT count(*) FROM jobs WHERE state = 'done'"), 200);
    // Documents a killed worker held went to another when its lease ran out.
    EXPECT_GE(pg.count("SELECT count(*) FROM jobs WHERE attempts > 1"), 1);
    EXPECT_GE(pg.count("SELECT count(DISTINCT worker) FROM results"), 4);

    // Waiting for the submission (all stored now) writes what the local run wrote, byte for byte.
    auto wait = submit;
    wait.insert(wait.end(), {"--wait", "-o", (tmp.path / "shared.jsonl").string()});
    auto waited = tf::test::run_terraferma(wait);
    ASSERT_EQ(waited.exit_code, 0) << waited.err;
    EXPECT_NE(waited.err.find("0 queued"), std::string::npos) << waited.err;
    EXPECT_EQ(slurp(tmp.path / "shared.jsonl"), expected);
    EXPECT_TRUE(fs::exists(tmp.path / "shared.manifest.json"));
    // A local run on the shared store finds every result there.
    auto local_args = extract_args(model, schema, pg.url(), "1024", tmp.path / "in");
    local_args.insert(local_args.end(), {"-o", (tmp.path / "local.jsonl").string()});
    auto local = tf::test::run_terraferma(local_args);
    ASSERT_EQ(local.exit_code, 0) << local.err;
    EXPECT_NE(local.err.find("0 computed, 200 from the store"), std::string::npos) << local.err;
    EXPECT_EQ(slurp(tmp.path / "local.jsonl"), expected);
    // The workers' ledger rows are in the database.
    auto report = tf::test::run_terraferma({"report", "--store", pg.url(), "--json"});
    ASSERT_EQ(report.exit_code, 0) << report.err;
    EXPECT_GE(json::parse(report.out)["total"]["tokens_in"].get<int64_t>(), 200);
    std::printf(
        "[queue] 200 documents, 3 workers, %d SIGKILLs, 1 PostgreSQL restart: %ld results, %ld reclaimed "
        "after a kill, output identical to the SQLite run\n",
        kills, pg.count("SELECT count(*) FROM results"), pg.count("SELECT count(*) FROM jobs WHERE attempts > 1"));
}

// A worker frozen in the middle of a document (SIGSTOP) and cut off (its connections ended by
// the server) loses its lease; another worker finishes the document; the first, woken up,
// finishes too but stores nothing.
TEST(SharedQueueE2E, a_worker_cut_off_stores_nothing_it_no_longer_owns) {
    TF_REQUIRE_REFERENCE();
    START_POSTGRES(pg);
    TempDir tmp;
    fs::create_directories(tmp.path / "in");
#if defined(__SANITIZE_ADDRESS__)
    constexpr int kDocs = 2, kSections = 12;  // the sanitizers' build is ~10x slower
#else
    constexpr int kDocs = 3, kSections = 36;
#endif
    for (int d = 0; d < kDocs; ++d) {
        std::ofstream f(tmp.path / "in" / ("report" + std::to_string(100 + d) + ".txt"));
        for (int p = 0; p < kSections; ++p) {
            f << "Section " << p << " of report " << d << ". The committee met on day " << (p * 7 + d) % 28 + 1
              << " and approved item " << (p * 131 + d * 17) % 997 << " with a budget of " << (p + 1) * (d + 3) * 11
              << " EUR after a long discussion of the options.\n\n";
        }
    }
    const fs::path schema = tmp.path / "schema.json";
    std::ofstream(schema)
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100},"items":{"type":"array","items":{"type":"integer","minimum":0,"maximum":999},"maxItems":4}},"required":["year","items"],"additionalProperties":false})";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    auto clean_args = extract_args(model, schema, (tmp.path / "clean.sqlite").string(), "512", tmp.path / "in");
    clean_args.insert(clean_args.end(), {"-o", (tmp.path / "clean.jsonl").string()});
    auto clean = tf::test::run_terraferma(clean_args);
    ASSERT_EQ(clean.exit_code, 0) << clean.err;

    auto submit = extract_args(model, schema, pg.url(), "512", tmp.path / "in");
    submit.push_back("--enqueue");
    ASSERT_EQ(tf::test::run_terraferma(submit).exit_code, 0);
    const fs::path log_a = tmp.path / "a.log", log_b = tmp.path / "b.log";
    const pid_t a = spawn_terraferma({"worker", "-m", model, "--store", pg.url(), "-t", "1", "--lease", "2", "--poll",
                                      "0.1", "--until-empty", "--name", "frozen"},
                                     log_a);
    ASSERT_GT(a, 0);
    // Frozen once it holds a document and has stored a step of it (it is computing).
    ASSERT_TRUE(wait_for(
        [&] {
            return pg.count(
                       "SELECT count(*) FROM jobs j JOIN steps s ON s.doc_sha256 = j.doc_sha256 "
                       "WHERE j.state = 'leased' AND j.lease LIKE 'frozen#%'") > 0;
        },
        120))
        << slurp(log_a);
    ::kill(a, SIGSTOP);
    const std::string held = pg.query("SELECT path FROM jobs WHERE state = 'leased' AND lease LIKE 'frozen#%'");
    ASSERT_FALSE(held.empty());
    EXPECT_GE(pg.count("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name LIKE 'frozen%') t"),
              2);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the lease (2 s) runs out
    auto b = tf::test::run_terraferma({"worker", "-m", model, "--store", pg.url(), "-t", "1", "--lease", "2", "--poll",
                                       "0.1", "--until-empty", "--name", "rescuer"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(pg.count("SELECT count(*) FROM results"), kDocs);
    EXPECT_EQ(pg.query("SELECT worker FROM results WHERE path = '" + held + "'"), "rescuer");
    ::kill(a, SIGCONT);
    int status = 0;
    ::waitpid(a, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(log_a);
    EXPECT_NE(slurp(log_a).find(held + ": the lease was lost"), std::string::npos) << slurp(log_a);
    EXPECT_EQ(pg.count("SELECT count(*) FROM results WHERE worker = 'frozen'"), 0);
    EXPECT_EQ(pg.count("SELECT count(*) FROM results"), kDocs);

    auto wait = submit;
    wait.insert(wait.end(), {"--wait", "-o", (tmp.path / "shared.jsonl").string()});
    auto waited = tf::test::run_terraferma(wait);
    ASSERT_EQ(waited.exit_code, 0) << waited.err;
    EXPECT_EQ(slurp(tmp.path / "shared.jsonl"), slurp(tmp.path / "clean.jsonl"));
}

// --wait streams each result as a worker stores it (no -o: standard output, completion order).
TEST(SharedQueueE2E, wait_streams_results_as_workers_store_them) {
    TF_REQUIRE_REFERENCE();
    START_POSTGRES(pg);
    TempDir tmp;
    fs::create_directories(tmp.path / "in");
    for (int i = 0; i < 6; ++i) std::ofstream(tmp.path / "in" / ("n" + std::to_string(i) + ".txt")) << "Note " << i;
    std::ofstream(tmp.path / "in" / "broken.pdf") << "%PDF-1.7 this is not a PDF";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    const std::vector<std::string> submit = {"classify",     "-m",        model,    "--labels",
                                             "note,invoice", "--store",   pg.url(), "-c",
                                             "512",          "--enqueue", "--wait", (tmp.path / "in").string()};
    const fs::path out = tmp.path / "out.jsonl", log = tmp.path / "wait.log";
    std::vector<std::string> all = {TF_BINARY};
    all.insert(all.end(), submit.begin(), submit.end());
    std::vector<char*> argv;
    for (auto& s : all) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t waiter;
    ASSERT_EQ(posix_spawn(&waiter, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    // Nothing until a worker runs.
    ASSERT_TRUE(wait_for([&] { return pg.count("SELECT count(*) FROM jobs") == 7; }, 60)) << slurp(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(slurp(out), "");
    auto w = tf::test::run_terraferma(
        {"worker", "-m", model, "--store", pg.url(), "--until-empty", "--tasks", "classify", "-q", "--poll", "0.1"});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    int status = 0;
    ::waitpid(waiter, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(log);
    const std::string text = slurp(out);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 7) << text;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        const json j = json::parse(l);
        if (j["path"].get<std::string>().find("broken.pdf") != std::string::npos)
            EXPECT_EQ(j["status"], "error");
        else
            EXPECT_EQ(j["status"], "ok") << l;
    }
}

}  // namespace

namespace {

// SIGTERM: the document under way is finished and stored, no new one is taken, nothing stays
// leased, and the exit is clean; the rest waits in the queue for other workers.
TEST(SharedQueueE2E, sigterm_finishes_the_document_under_way_and_leaves_the_rest_queued) {
    TF_REQUIRE_REFERENCE();
    START_POSTGRES(pg);
    TempDir tmp;
    fs::create_directories(tmp.path / "in");
    constexpr int kDocs = 150;  // far more than a worker does between the signal and its exit
    for (int i = 0; i < kDocs; ++i)
        std::ofstream(tmp.path / "in" / ("t" + std::to_string(100 + i) + ".txt")) << "Ticket " << i << ": printer";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    auto q = tf::test::run_terraferma({"classify", "-m", model, "--labels", "hardware,software", "--store", pg.url(),
                                       "-c", "512", "--enqueue", (tmp.path / "in").string()});
    ASSERT_EQ(q.exit_code, 0) << q.err;
    const fs::path log = tmp.path / "worker.log";
    const pid_t w =
        spawn_terraferma({"worker", "-m", model, "--store", pg.url(), "-t", "1", "--name", "graceful"}, log);
    ASSERT_GT(w, 0);
    ASSERT_TRUE(wait_for([&] { return pg.count("SELECT count(*) FROM results") >= 2; }, 120)) << slurp(log);
    ::kill(w, SIGTERM);
    int status = 0;
    ::waitpid(w, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << ": " << slurp(log);
    EXPECT_NE(slurp(log).find("stopping after the documents under way"), std::string::npos) << slurp(log);
    EXPECT_EQ(pg.count("SELECT count(*) FROM jobs WHERE state = 'leased'"), 0);
    const long stored = pg.count("SELECT count(*) FROM results");
    EXPECT_EQ(pg.count("SELECT count(*) FROM jobs WHERE state = 'done'"), stored);
    EXPECT_LT(stored, kDocs);
    EXPECT_EQ(pg.count("SELECT count(*) FROM jobs WHERE state = 'queued'"), kDocs - stored);
}

}  // namespace
