// extract / classify / summarize end to end with the real binary: every sample document (and
// the broken ones) gets exactly one line; reruns come from the store unchanged; runs killed
// with SIGKILL at random moments and resumed end bit-identical to an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "support/files.h"
#include "support/pdf_samples.h"
#include "support/reference.h"
#include "support/run.h"
#include "support/zip.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using tf::test::slurp;
using tf::test::spawn_terraferma;

struct TempDir : tf::test::TempDir {
    TempDir() : tf::test::TempDir("tf-pipe-") {}
};

fs::path docs() {
    return tf::test::shared_dir() / "peer-tests" / "documents";
}

std::vector<json> lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (!l.empty()) out.push_back(json::parse(l));
    }
    return out;
}

// Runs terraferma with `args` (stderr appended to `log`), and SIGKILLs it after `ms` unless it
// ended by itself first; -1 when it could not start, else whether it was killed (1) or not (0).
int run_and_kill_after(const std::vector<std::string>& args, int ms, const fs::path& log, int* status_out = nullptr) {
    const pid_t pid = spawn_terraferma(args, log);
    if (pid < 0) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return 1;
    }
    if (status_out != nullptr) *status_out = status;
    return 0;
}

// The number of results a job store holds, read while a run may be writing it (WAL: a reader
// never blocks the writer); -1 while the store does not exist yet.
int stored_results(const fs::path& store) {
    if (!fs::exists(store)) return -1;
    sqlite3* db = nullptr;
    int n = -1;
    if (sqlite3_open_v2(store.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM results", -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

// Runs terraferma with `args` (stderr appended to `log`) and SIGKILLs it once `store` holds
// `more` results beyond what it held at the start — a kill at a point of the work rather than of
// the clock, which a loaded machine stretches. -1 when it could not start, else whether it was
// killed (1) or ended by itself first (0).
int run_and_kill_after_results(const std::vector<std::string>& args, const fs::path& store, int more,
                               const fs::path& log, int* status_out = nullptr) {
    const int before = std::max(stored_results(store), 0);
    const pid_t pid = spawn_terraferma(args, log);
    if (pid < 0) return -1;
    int status = 0;
    for (;;) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            if (status_out != nullptr) *status_out = status;
            return 0;
        }
        if (stored_results(store) >= before + more) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return 1;
}

const char* kSchema =
    R"({"type":"object","properties":{"title":{"type":"string","maxLength":30},"year":{"type":"integer","minimum":1900,"maximum":2100},"topics":{"type":"array","items":{"enum":["law","software","science","other"]},"maxItems":2}},"required":["title","year"],"additionalProperties":false})";

// Every type, the broken files included; the three long documents (tracemonkey, TAMReview, the
// GPL) are left to the ingestion tests and the summarize test to keep this one quick.
TEST(PipelineE2E, extract_over_every_sample_document_then_again_from_the_store) {
    TF_REQUIRE_REFERENCE();
    if (!fs::exists(docs())) GTEST_SKIP() << "no sample documents";
    TempDir tmp;
    std::ofstream(tmp.path / "schema.json") << kSchema;
    const std::string model = (tf::test::reference_dir() / "models/vocab-llama3-llama-Q8_0.gguf").string();
    std::vector<std::string> args = {"extract",
                                     "-m",
                                     model,
                                     "--schema",
                                     (tmp.path / "schema.json").string(),
                                     "--store",
                                     (tmp.path / "jobs.sqlite").string(),
                                     "--parallel",
                                     "2",
                                     "-t",
                                     "1",
                                     "-c",
                                     "2048",
                                     "--max-output",
                                     "96",
                                     "-o",
                                     (tmp.path / "out.jsonl").string()};
    size_t n_files = 0;
    for (auto it = fs::recursive_directory_iterator(docs()); it != fs::recursive_directory_iterator(); ++it) {
        const std::string name = it->path().filename().string();
        if (!it->is_regular_file() || name == "tracemonkey.pdf" || name == "TAMReview.pdf" || name == "GPL-3.txt")
            continue;
        args.push_back(it->path().string());
        ++n_files;
    }
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string first = slurp(tmp.path / "out.jsonl");
    const auto out = lines(first);
    ASSERT_EQ(out.size(), n_files);
    int ok = 0, errors = 0;
    for (const auto& l : out) {
        const std::string path = l["path"];
        if (path.find("/corrupt/") != std::string::npos) {
            EXPECT_EQ(l["status"], "error") << path;
        }
        if (l["status"] == "ok") {
            ++ok;
            const json& o = l["output"];
            EXPECT_TRUE(o["title"].is_string()) << path;
            EXPECT_LE(o["title"].get<std::string>().size(), 120u);
            EXPECT_GE(o["year"].get<int>(), 1900);
            EXPECT_LE(o["year"].get<int>(), 2100);
        } else {
            ++errors;
            EXPECT_FALSE(l["error"].get<std::string>().empty());
        }
    }
    EXPECT_GE(ok, 12);
    EXPECT_GE(errors, 4);
    // Again: nothing recomputed, the same bytes.
    auto again = tf::test::run_terraferma(args);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.err.find("0 computed, " + std::to_string(n_files) + " from the store"), std::string::npos)
        << again.err;
    EXPECT_EQ(slurp(tmp.path / "out.jsonl"), first);
    // The manifest re-runs every document from scratch: all identical.
    auto verify = tf::test::run_terraferma({"verify", (tmp.path / "out.manifest.json").string(), "-t", "2"});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_NE(verify.out.find(std::to_string(n_files) + " documents: " + std::to_string(n_files) + " identical"),
              std::string::npos)
        << verify.out;
    // The ledger counts both runs.
    auto report = tf::test::run_terraferma({"report", "--store", (tmp.path / "jobs.sqlite").string(), "--json"});
    ASSERT_EQ(report.exit_code, 0) << report.err;
    const json rep = json::parse(report.out);
    EXPECT_EQ(rep["total"]["runs"], 2);
    EXPECT_GT(rep["total"]["tokens_in"].get<int64_t>(), 1000);
    EXPECT_GT(rep["total"]["cloud_cost"]["gpt-4o"].get<double>(), 0.0);
}

TEST(PipelineE2E, verify_detects_a_changed_model) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    fs::copy_file(tf::test::reference_dir() / "models/tiny-llama.gguf", tmp.path / "model.gguf");
    std::ofstream(tmp.path / "a.txt") << "Invoice 7, issued in 1999.";
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100}},"required":["year"]})";
    auto r = tf::test::run_terraferma({"extract", "-m", (tmp.path / "model.gguf").string(), "--schema",
                                       (tmp.path / "s.json").string(), "--store", (tmp.path / "j.sqlite").string(),
                                       "-c", "1024", "--max-output", "32", "-o", (tmp.path / "o.jsonl").string(),
                                       (tmp.path / "a.txt").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto ok = tf::test::run_terraferma({"verify", (tmp.path / "o.manifest.json").string()});
    EXPECT_EQ(ok.exit_code, 0) << ok.out;
    {
        // One byte of the last tensor changes: the file still loads, the results could differ.
        std::fstream f(tmp.path / "model.gguf", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(-10, std::ios::end);
        f.put('\x42');
    }
    auto bad = tf::test::run_terraferma({"verify", (tmp.path / "o.manifest.json").string()});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.out.find("not the model that produced these results"), std::string::npos) << bad.out << bad.err;
}

// A Q8_0 KV cache is part of the run's identity: recorded in the manifest (and honoured by verify),
// and a run with it is computed anew rather than served from an F16 run's store entries.
TEST(PipelineE2E, a_q8_0_kv_cache_is_recorded_and_verified) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    std::ofstream(tmp.path / "a.txt") << "Invoice 7, issued in 1999.";
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100}},"required":["year"]})";
    auto extract = [&](const std::vector<std::string>& extra, const std::string& out) {
        std::vector<std::string> args{"extract",
                                      "-m",
                                      model,
                                      "--schema",
                                      (tmp.path / "s.json").string(),
                                      "--store",
                                      (tmp.path / "j.sqlite").string(),
                                      "-c",
                                      "1024",
                                      "--max-output",
                                      "32",
                                      "-o",
                                      (tmp.path / out).string(),
                                      (tmp.path / "a.txt").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return tf::test::run_terraferma(args);
    };
    auto f16 = extract({}, "f16.jsonl");
    ASSERT_EQ(f16.exit_code, 0) << f16.err;
    auto q8 = extract({"--cache-type-k", "q8_0", "--cache-type-v", "q8_0"}, "q8.jsonl");
    ASSERT_EQ(q8.exit_code, 0) << q8.err;
    const json m = json::parse(slurp(tmp.path / "q8.manifest.json"));
    EXPECT_EQ(m["task"]["kv_cache"]["k"], "Q8_0");
    EXPECT_EQ(m["task"]["kv_cache"]["v"], "Q8_0");
    EXPECT_NE(m["task"]["key"], json::parse(slurp(tmp.path / "f16.manifest.json"))["task"]["key"]);
    auto v = tf::test::run_terraferma({"verify", (tmp.path / "q8.manifest.json").string()});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    auto bad = extract({"--cache-type-v", "q4_0"}, "bad.jsonl");
    EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST(PipelineE2E, classify_and_summarize) {
    TF_REQUIRE_REFERENCE();
    if (!fs::exists(docs())) GTEST_SKIP() << "no sample documents";
    TempDir tmp;
    const std::string model = (tf::test::reference_dir() / "models/vocab-qwen2-qwen2-Q8_0.gguf").string();
    auto c = tf::test::run_terraferma({"classify", "-m", model, "--labels", "license,manual,paper", "--store",
                                       (tmp.path / "j.sqlite").string(), (docs() / "text").string(),
                                       (docs() / "html").string()});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    for (const auto& l : lines(c.out)) {
        ASSERT_EQ(l["status"], "ok") << l.dump();
        const std::string label = l["output"]["label"];
        EXPECT_TRUE(label == "license" || label == "manual" || label == "paper");
        const double conf = l["output"]["confidence"];
        EXPECT_GT(conf, 0.0);
        EXPECT_LE(conf, 1.0);
        double total = 0;
        for (auto& [k, v] : l["probabilities"].items()) total += v.get<double>();
        EXPECT_NEAR(total, 1.0, 1e-9);
    }
    // A document longer than the context: map-reduce over every chunk. A random-weight model
    // never ends its summary, and a summary the token limit cuts off is reported, not "ok".
    auto s = tf::test::run_terraferma({"summarize", "-m", model, "--words", "20", "-c", "512", "--store",
                                       (tmp.path / "s.sqlite").string(), (docs() / "text/GPL-3.txt").string()});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const auto sl = lines(s.out);
    ASSERT_EQ(sl.size(), 1u);
    ASSERT_EQ(sl[0]["status"], "error") << sl[0].dump();
    EXPECT_NE(sl[0]["error"].get<std::string>().find("cut off at the token limit"), std::string::npos) << sl[0].dump();
    auto ledger = tf::test::run_terraferma({"report", "--store", (tmp.path / "s.sqlite").string(), "--json"});
    ASSERT_EQ(ledger.exit_code, 0) << ledger.err;
    EXPECT_GT(json::parse(ledger.out)["total"]["tokens_in"].get<int64_t>(), 8000)
        << "every chunk of the GPL (about 8k tokens) was read";

    // classify reads every chunk: the GPL's labels differ from those of its first chunk alone.
    const std::string gpl = slurp(docs() / "text/GPL-3.txt");
    std::ofstream(tmp.path / "gpl-start.txt") << gpl.substr(0, 600);
    auto whole =
        tf::test::run_terraferma({"classify", "-m", model, "--labels", "license,manual,paper", "-c", "512", "--store",
                                  (tmp.path / "k.sqlite").string(), (docs() / "text/GPL-3.txt").string(),
                                  (tmp.path / "gpl-start.txt").string()});
    ASSERT_EQ(whole.exit_code, 0) << whole.err;
    const auto kl = lines(whole.out);
    ASSERT_EQ(kl.size(), 2u);
    ASSERT_EQ(kl[0]["status"], "ok") << kl[0].dump();
    EXPECT_GT(kl[0]["chunks"].get<int>(), 10);
    EXPECT_EQ(kl[1]["chunks"].get<int>(), 1);
    EXPECT_NE(kl[0]["probabilities"], kl[1]["probabilities"]);
}

// Kill -9 at random moments, resume, and compare with an uninterrupted run.
TEST(PipelineE2E, killed_runs_resume_to_the_same_results) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    fs::create_directories(tmp.path / "in");
    for (int i = 0; i < 200; ++i) {
        std::ofstream(tmp.path / "in" / ("doc" + std::to_string(1000 + i) + ".txt"))
            << "Invoice " << i << " from supplier " << (i * 7919 % 101) << ", issued in " << (1950 + i)
            << ".\n\nTotal due: " << i * 13 << " EUR.";
    }
    std::ofstream(tmp.path / "schema.json")
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100},"paid":{"type":"boolean"}},"required":["year","paid"],"additionalProperties":false})";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    auto args = [&](const std::string& store, const std::string& out) {
        return std::vector<std::string>{"extract",
                                        "-m",
                                        model,
                                        "--schema",
                                        (tmp.path / "schema.json").string(),
                                        "--store",
                                        store,
                                        "--parallel",
                                        "2",
                                        "-t",
                                        "1",
                                        "-c",
                                        "1024",
                                        "--max-output",
                                        "64",
                                        "-o",
                                        out,
                                        (tmp.path / "in").string()};
    };
    auto clean =
        tf::test::run_terraferma(args((tmp.path / "clean.sqlite").string(), (tmp.path / "clean.jsonl").string()));
    ASSERT_EQ(clean.exit_code, 0) << clean.err;
    const std::string expected = slurp(tmp.path / "clean.jsonl");
    ASSERT_EQ(lines(expected).size(), 200u);
    for (const auto& l : lines(expected)) ASSERT_EQ(l["status"], "ok") << l.dump();

    std::mt19937 rng(7);
    const fs::path crash_store = tmp.path / "crash.sqlite";
    const auto a = args(crash_store.string(), (tmp.path / "crash.jsonl").string());
    int kills = 0;
    // Ten runs each killed after 1-12 new results (some mid-document: two are in flight), so the
    // last run always has work left whatever the machine's speed.
    for (int round = 0; kills < 10 && round < 20; ++round) {
        int status = 0;
        const int killed = run_and_kill_after_results(a, crash_store, 1 + static_cast<int>(rng() % 12),
                                                      tmp.path / "crash.log", &status);
        ASSERT_GE(killed, 0) << "cannot start " << TF_BINARY;
        kills += killed;
        ASSERT_EQ(killed, 1) << "a run ended by itself before its kill (status " << status
                             << "): " << slurp(tmp.path / "crash.log");
    }
    auto final_run = tf::test::run_terraferma(a);
    ASSERT_EQ(final_run.exit_code, 0) << final_run.err;
    EXPECT_EQ(slurp(tmp.path / "crash.jsonl"), expected);
    // The killed runs stored some documents and every kill struck with work still pending: the
    // last run found some in the store and computed the rest.
    int computed = -1, stored = -1;
    const auto at = final_run.err.rfind("documents (");  // the summary line, after the progress lines
    ASSERT_NE(at, std::string::npos) << final_run.err;
    ASSERT_EQ(std::sscanf(final_run.err.c_str() + at, "documents (%d computed, %d from the store", &computed, &stored),
              2)
        << final_run.err;
    EXPECT_GT(stored, 0) << final_run.err;
    EXPECT_GT(computed, 0) << final_run.err;
    EXPECT_GE(kills, 10) << "the runs finished too fast to be interrupted";
    std::printf(
        "[pipeline] 200 documents, %d runs killed with SIGKILL (%d stored by them, %d left to the last run), resumed: "
        "output identical\n",
        kills, stored, computed);
}

// --watch: files dropped into an inbox are processed and moved; a SIGKILL in the middle, a torn
// last output line and a file put back as if the move had not happened before the crash still
// end with exactly one line per document, equal to a plain run's; SIGTERM stops cleanly.
TEST(PipelineE2E, watch_processes_arriving_files_exactly_once_across_a_crash) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    const fs::path inbox = tmp.path / "inbox", done = inbox / ".done", all = tmp.path / "all";
    fs::create_directories(inbox);
    fs::create_directories(all);
    auto drop = [&](int from, int to) {
        for (int i = from; i < to; ++i) {
            const std::string name = "note" + std::to_string(100 + i) + ".txt";
            std::ofstream(all / name) << "Ticket " << i << " opened in " << (1990 + i) << " by customer " << i * 31
                                      << ".";
            // Written beside the inbox and renamed in, as a careful producer does.
            fs::copy_file(all / name, tmp.path / name);
            fs::last_write_time(tmp.path / name, fs::file_time_type::clock::now() - std::chrono::seconds(10));
            fs::rename(tmp.path / name, inbox / name);
        }
    };
    std::ofstream(tmp.path / "schema.json")
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100}},"required":["year"],"additionalProperties":false})";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    const std::vector<std::string> common = {"extract",
                                             "-m",
                                             model,
                                             "--schema",
                                             (tmp.path / "schema.json").string(),
                                             "--store",
                                             (tmp.path / "jobs.sqlite").string(),
                                             "-t",
                                             "1",
                                             "-c",
                                             "512",
                                             "--max-output",
                                             "32"};
    auto spawn_watch = [&]() {
        std::vector<std::string> a = {TF_BINARY};
        a.insert(a.end(), common.begin(), common.end());
        for (const char* x : {"-o", "", "--watch", "", "--move-to", "", "--poll", "0.1"}) a.push_back(x);
        a[a.size() - 7] = (tmp.path / "out.jsonl").string();
        a[a.size() - 5] = inbox.string();
        a[a.size() - 3] = done.string();
        std::vector<char*> argv;
        for (auto& x : a) argv.push_back(x.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, (tmp.path / "watch.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        pid_t pid = -1;
        EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        return pid;
    };
    auto wait_for = [&](auto cond) {
        for (int i = 0; i < 1200 && !cond(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return cond();
    };
    auto visible_in_inbox = [&] {
        size_t n = 0;
        for (const auto& e : fs::directory_iterator(inbox)) n += e.path().filename().string()[0] != '.';
        return n;
    };

    drop(0, 20);
    pid_t pid = spawn_watch();
    ASSERT_TRUE(wait_for([&] { return lines(slurp(tmp.path / "out.jsonl")).size() >= 1; }))
        << slurp(tmp.path / "watch.log");
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);

    // As if the crash had come between the append and the move: a finished file back in the
    // inbox; and half a line at the end of the output.
    const json first = lines(slurp(tmp.path / "out.jsonl")).front();
    const fs::path first_path = first["path"].get<std::string>();
    // (The kill may itself have come between the append and the move: then it is still there.)
    if (fs::exists(done / first_path.filename())) fs::rename(done / first_path.filename(), first_path);
    ASSERT_TRUE(fs::exists(first_path));
    std::ofstream(tmp.path / "out.jsonl", std::ios::app) << R"({"path":")" << (inbox / "note1").string();

    drop(20, 25);
    pid = spawn_watch();
    ASSERT_TRUE(wait_for([&] { return visible_in_inbox() == 0 && lines(slurp(tmp.path / "out.jsonl")).size() >= 25; }))
        << slurp(tmp.path / "watch.log");
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(tmp.path / "watch.log");
    EXPECT_NE(slurp(tmp.path / "watch.log").find("stopped watching"), std::string::npos);

    const auto got = lines(slurp(tmp.path / "out.jsonl"));
    ASSERT_EQ(got.size(), 25u) << slurp(tmp.path / "out.jsonl");
    std::map<std::string, json> by_sha;
    for (const auto& l : got) {
        EXPECT_EQ(l["status"], "ok") << l.dump();
        EXPECT_TRUE(by_sha.emplace(l["sha256"].get<std::string>(), l["output"]).second) << "twice: " << l.dump();
    }
    size_t moved = 0;
    for (const auto& e : fs::directory_iterator(done)) moved += e.is_regular_file();
    EXPECT_EQ(moved, 25u);
    EXPECT_TRUE(fs::exists(done / first_path.filename())) << "the file put back was moved again, without a second line";

    // A plain run over the same documents gives the same results.
    std::vector<std::string> plain = common;
    plain[plain.size() - 7] = (tmp.path / "plain.sqlite").string();
    plain.push_back(all.string());
    auto r = tf::test::run_terraferma(plain);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto expected = lines(r.out);
    ASSERT_EQ(expected.size(), 25u);
    for (const auto& l : expected) EXPECT_EQ(by_sha[l["sha256"].get<std::string>()], l["output"]) << l.dump();

    // The manifest covers the watch's documents at their new place, and verifies.
    auto v = tf::test::run_terraferma({"verify", (tmp.path / "out.manifest.json").string(), "-t", "1"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// Two runs at once on the same store and documents: both finish, their outputs agree, and a
// third run finds every document stored exactly once (nothing left to compute).
TEST(PipelineE2E, concurrent_runs_share_one_store_safely) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    fs::create_directories(tmp.path / "in");
    for (int i = 0; i < 40; ++i)
        std::ofstream(tmp.path / "in" / ("n" + std::to_string(i) + ".txt"))
            << "Order " << i << " placed in " << (1960 + i) << ".";
    std::ofstream(tmp.path / "schema.json")
        << R"({"type":"object","properties":{"year":{"type":"integer"}},"required":["year"]})";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    auto args = [&](const std::string& out) {
        return std::vector<std::string>{TF_BINARY,
                                        "extract",
                                        "-m",
                                        model,
                                        "--schema",
                                        (tmp.path / "schema.json").string(),
                                        "--store",
                                        (tmp.path / "jobs.sqlite").string(),
                                        "-t",
                                        "1",
                                        "-c",
                                        "512",
                                        "--max-output",
                                        "32",
                                        "-o",
                                        (tmp.path / out).string(),
                                        (tmp.path / "in").string()};
    };
    std::vector<pid_t> pids;
    for (const char* out : {"a.jsonl", "b.jsonl"}) {
        auto a = args(out);
        std::vector<char*> argv;
        for (auto& x : a) argv.push_back(x.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, (tmp.path / (std::string(out) + ".log")).c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        pid_t pid = -1;
        ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << slurp(tmp.path / "a.jsonl.log") << slurp(tmp.path / "b.jsonl.log");
    }
    const std::string a = slurp(tmp.path / "a.jsonl");
    EXPECT_EQ(lines(a).size(), 40u);
    EXPECT_EQ(a, slurp(tmp.path / "b.jsonl"));
    auto third = args("c.jsonl");
    third.erase(third.begin());
    auto r = tf::test::run_terraferma(third);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("(0 computed, 40 from the store"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(tmp.path / "c.jsonl"), a);
}

}  // namespace

namespace {

std::vector<std::string> extract_args(const TempDir& tmp, const std::string& out) {
    return {"extract",
            "-m",
            (tf::test::reference_dir() / "models/tiny-llama.gguf").string(),
            "--schema",
            (tmp.path / "s.json").string(),
            "--store",
            (tmp.path / "j.sqlite").string(),
            "-c",
            "1024",
            "--max-output",
            "48",
            "-o",
            (tmp.path / out).string()};
}

// A result belongs to what was read, not only to the bytes: a file is read by what its bytes
// are (a DOCX named .pdf is a DOCX; PDF bytes named .txt are a PDF, never raw syntax for the
// model), the same bytes read another way are another result, an error names the file it is
// about, and a misnamed file renamed is computed anew.
TEST(PipelineE2E, each_result_belongs_to_its_document_as_read) {
    TF_REQUIRE_REFERENCE();
    if (!fs::exists(docs())) GTEST_SKIP() << "no sample documents";
    TempDir tmp;
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"title":{"type":"string","maxLength":20}},"required":["title"]})";
    fs::copy_file(docs() / "docx/test.docx", tmp.path / "letter.docx");
    fs::copy_file(docs() / "docx/test.docx", tmp.path / "other-file.pdf");  // DOCX bytes, wrong name
    fs::copy_file(docs() / "pdf/160F-2019.pdf", tmp.path / "invoice.pdf");
    fs::copy_file(docs() / "pdf/160F-2019.pdf", tmp.path / "invoice.txt");  // PDF bytes, wrong name
    fs::copy_file(docs() / "corrupt/truncated.pdf", tmp.path / "broken-a.pdf");
    fs::copy_file(docs() / "corrupt/truncated.pdf", tmp.path / "broken-b.pdf");  // same bytes, same error, its own name
    std::ofstream(tmp.path / "notes.txt") << "%PDX- not a pdf, just text about invoices.";
    auto args = extract_args(tmp, "o.jsonl");
    for (const char* f :
         {"letter.docx", "other-file.pdf", "invoice.pdf", "invoice.txt", "broken-a.pdf", "broken-b.pdf", "notes.txt"}) {
        args.push_back((tmp.path / f).string());
    }
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, json> by_name;
    for (const auto& l : lines(slurp(tmp.path / "o.jsonl")))
        by_name[fs::path(l["path"].get<std::string>()).filename().string()] = l;
    ASSERT_EQ(by_name.size(), 7u);
    // The DOCX named .pdf is read as a DOCX: the same result as the real .docx.
    EXPECT_EQ(by_name["other-file.pdf"]["status"], "ok") << by_name["other-file.pdf"].dump();
    EXPECT_EQ(by_name["other-file.pdf"]["output"], by_name["letter.docx"]["output"]);
    // PDF bytes named .txt: read as a PDF, exactly as the same bytes named .pdf (not as tokens
    // of PDF syntax).
    EXPECT_EQ(by_name["invoice.txt"]["status"], by_name["invoice.pdf"]["status"]);
    EXPECT_EQ(by_name["invoice.txt"].value("output", json()), by_name["invoice.pdf"].value("output", json()))
        << by_name["invoice.txt"].dump();
    EXPECT_EQ(by_name["invoice.txt"].value("provenance", json()), by_name["invoice.pdf"].value("provenance", json()));
    // Errors name their own file, even when the second came from the store.
    for (const char* f : {"broken-a.pdf", "broken-b.pdf"}) {
        EXPECT_EQ(by_name[f]["status"], "error");
        const std::string e = by_name[f]["error"];
        EXPECT_NE(e.find(f), std::string::npos) << e;
        EXPECT_EQ(e.find(std::string(f) == "broken-a.pdf" ? "broken-b.pdf" : "broken-a.pdf"), std::string::npos) << e;
    }
    // A text file renamed to .html is read another way: computed anew, not served the .txt result.
    fs::rename(tmp.path / "notes.txt", tmp.path / "notes.html");
    auto again = extract_args(tmp, "o2.jsonl");
    again.push_back((tmp.path / "notes.html").string());
    auto r2 = tf::test::run_terraferma(again);
    ASSERT_EQ(r2.exit_code, 0) << r2.err;
    EXPECT_NE(r2.err.find("1 computed, 0 from the store"), std::string::npos) << r2.err;
    // And back: the .txt result is in the store still.
    fs::rename(tmp.path / "notes.html", tmp.path / "notes.txt");
    auto back = extract_args(tmp, "o3.jsonl");
    back.push_back((tmp.path / "notes.txt").string());
    auto r3 = tf::test::run_terraferma(back);
    ASSERT_EQ(r3.exit_code, 0) << r3.err;
    EXPECT_NE(r3.err.find("0 computed, 1 from the store"), std::string::npos) << r3.err;
}

// verify proves what it claims: an untouched run — failures included — has no problem; an edited
// output line, an edited manifest and a changed document are each reported, once.
TEST(PipelineE2E, verify_reads_the_output_and_expects_the_same_errors) {
    TF_REQUIRE_REFERENCE();
    if (!fs::exists(docs())) GTEST_SKIP() << "no sample documents";
    TempDir tmp;
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100}},"required":["year"]})";
    std::ofstream(tmp.path / "a.txt") << "Invoice 7, issued in 1999.";
    std::ofstream(tmp.path / "b.txt") << "Order 12, placed in 2004.";
    fs::copy_file(docs() / "corrupt/truncated.pdf", tmp.path / "broken.pdf");
    std::ofstream(tmp.path / "empty.txt") << "   \n";
    auto args = extract_args(tmp, "o.jsonl");
    for (const char* f : {"a.txt", "b.txt", "broken.pdf", "empty.txt"}) args.push_back((tmp.path / f).string());
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string manifest = (tmp.path / "o.manifest.json").string();
    auto ok = tf::test::run_terraferma({"verify", manifest, "-t", "1"});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find("4 documents: 4 identical, 0 skipped (NOTE says why), 0 problems"), std::string::npos)
        << ok.out;

    // One value edited in the output file: exactly that line is reported.
    const std::string original = slurp(tmp.path / "o.jsonl");
    std::string edited = original;
    const size_t at = edited.find("\"year\":");
    ASSERT_NE(at, std::string::npos) << edited;
    edited.insert(at + 7, "1");
    std::ofstream(tmp.path / "o.jsonl", std::ios::trunc) << edited;
    auto bad = tf::test::run_terraferma({"verify", manifest, "-t", "1"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.out.find("o.jsonl line 1"), std::string::npos) << bad.out;
    EXPECT_NE(bad.out.find(", 1 problems"), std::string::npos) << bad.out;
    std::ofstream(tmp.path / "o.jsonl", std::ios::trunc) << original;

    // The manifest edited (its recorded schema): the digest says so.
    std::string m = slurp(manifest);
    const size_t sat = m.find("\"maximum\": 2100");
    ASSERT_NE(sat, std::string::npos) << m;
    m.replace(sat, 15, "\"maximum\": 2200");
    std::ofstream(manifest, std::ios::trunc) << m;
    auto edited_manifest = tf::test::run_terraferma({"verify", manifest, "-t", "1"});
    EXPECT_EQ(edited_manifest.exit_code, 1);
    EXPECT_NE(edited_manifest.out.find("the manifest was edited"), std::string::npos) << edited_manifest.out;
}

}  // namespace

namespace {

// A document of many chunks extracts to one object valid against the schema, its array cut at
// maxItems (what was cut is reported) and each field's page recorded.
TEST(PipelineE2E, a_long_document_extracts_to_one_valid_object) {
    TF_REQUIRE_REFERENCE();
    if (!fs::exists(docs())) GTEST_SKIP() << "no sample documents";
    TempDir tmp;
    // Every string bounded: the grammar's answers are short, so each chunk's answer ends in time.
    std::ofstream(tmp.path / "s.json") << R"({"type":"object","properties":{
        "title":{"type":"string","maxLength":12},"version":{"type":"integer","minimum":1,"maximum":9},
        "topics":{"type":"array","items":{"type":"string","maxLength":6},"maxItems":2,"uniqueItems":true}},
      "required":["title","version","topics"],"additionalProperties":false})";
    auto args = extract_args(tmp, "o.jsonl");
    args[2] = (tf::test::reference_dir() / "models/vocab-qwen2-qwen2-Q8_0.gguf").string();
    args[8] = "512";  // -c
    args[10] = "96";  // --max-output
    args.push_back((docs() / "text/GPL-3.txt").string());
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = lines(slurp(tmp.path / "o.jsonl"));
    ASSERT_EQ(out.size(), 1u);
    const json& l = out[0];
    ASSERT_EQ(l["status"], "ok") << l.dump();
    EXPECT_GE(l["chunks"].get<int>(), 5);
    const json& o = l["output"];
    EXPECT_LE(o["title"].get<std::string>().size(), 48u);  // 12 characters, UTF-8
    EXPECT_GE(o["version"].get<int>(), 1);
    EXPECT_LE(o["version"].get<int>(), 9);
    ASSERT_TRUE(o["topics"].is_array());
    EXPECT_LE(o["topics"].size(), 2u);
    std::set<std::string> distinct;
    for (const auto& t : o["topics"]) distinct.insert(t.get<std::string>());
    EXPECT_EQ(distinct.size(), o["topics"].size());
    EXPECT_TRUE(l["provenance"].contains("title")) << l.dump();
    // The schema's validator agrees (format and all): verify re-runs it to the same bytes.
    auto v = tf::test::run_terraferma({"verify", (tmp.path / "o.manifest.json").string(), "-t", "2"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace

namespace {

// Durability inside a document: 20 documents of 10+ chunks each, a run killed with SIGKILL at
// random moments 10 times, then completed. Every chunk's answer is kept when it is done, so the
// documents resume where they stopped: the output is bit-identical to an uninterrupted run's,
// and the model work all runs recorded in the ledger (which each killed run keeps up to date)
// is at most 1.3 times the uninterrupted run's.
TEST(PipelineE2E, killed_runs_resume_long_documents_where_they_stopped) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    fs::create_directories(tmp.path / "in");
#if defined(__SANITIZE_ADDRESS__)
    constexpr int kDocs = 6;  // the sanitizers' build is ~10x slower; the release build runs all 20
#else
    constexpr int kDocs = 20;
#endif
    for (int d = 0; d < kDocs; ++d) {
        std::ofstream f(tmp.path / "in" / ("report" + std::to_string(100 + d) + ".txt"));
        for (int p = 0; p < 36; ++p) {
            f << "Section " << p << " of report " << d << ". The committee met on day " << (p * 7 + d) % 28 + 1
              << " and approved item " << (p * 131 + d * 17) % 997 << " with a budget of " << (p + 1) * (d + 3) * 11
              << " EUR after a long discussion of the options.\n\n";
        }
    }
    std::ofstream(tmp.path / "schema.json")
        << R"({"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100},"items":{"type":"array","items":{"type":"integer","minimum":0,"maximum":999},"maxItems":4}},"required":["year","items"],"additionalProperties":false})";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    auto args = [&](const std::string& store, const std::string& out) {
        return std::vector<std::string>{"extract",
                                        "-m",
                                        model,
                                        "--schema",
                                        (tmp.path / "schema.json").string(),
                                        "--store",
                                        store,
                                        "--parallel",
                                        "2",
                                        "-t",
                                        "1",
                                        "-c",
                                        "512",
                                        "--max-output",
                                        "64",
                                        "-o",
                                        out,
                                        (tmp.path / "in").string()};
    };
    auto ledger_tokens = [&](const std::string& store) {
        auto r = tf::test::run_terraferma({"report", "--store", store, "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        const json j = json::parse(r.out);
        return j["total"]["tokens_in"].get<int64_t>() + j["total"]["tokens_out"].get<int64_t>();
    };
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    auto clean =
        tf::test::run_terraferma(args((tmp.path / "clean.sqlite").string(), (tmp.path / "clean.jsonl").string()));
    ASSERT_EQ(clean.exit_code, 0) << clean.err;
    const int work_ms =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
    const std::string expected = slurp(tmp.path / "clean.jsonl");
    const auto expected_lines = lines(expected);
    ASSERT_EQ(expected_lines.size(), static_cast<size_t>(kDocs));
    for (const auto& l : expected_lines) {
        ASSERT_EQ(l["status"], "ok") << l.dump().substr(0, 600);
        ASSERT_GE(l["chunks"].get<int>(), 10) << l.dump().substr(0, 600);
    }
    const int64_t clean_tokens = ledger_tokens((tmp.path / "clean.sqlite").string());

    std::mt19937 rng(11);
    const auto a = args((tmp.path / "crash.sqlite").string(), (tmp.path / "crash.jsonl").string());
    int kills = 0;
    for (int round = 0; kills < 10 && round < 40; ++round) {
        // Each run gets up to a tenth of the whole work before the kill: some documents finish,
        // most are struck in the middle of their chunks.
        const int killed = run_and_kill_after(
            a, 150 + static_cast<int>(rng() % static_cast<unsigned>(std::max(work_ms / 10, 20))), "/dev/null");
        ASSERT_GE(killed, 0) << "cannot start " << TF_BINARY;
        kills += killed;
    }
    auto final_run = tf::test::run_terraferma(a);
    ASSERT_EQ(final_run.exit_code, 0) << final_run.err;
    EXPECT_EQ(slurp(tmp.path / "crash.jsonl"), expected);
    const int64_t crash_tokens = ledger_tokens((tmp.path / "crash.sqlite").string());
    const double ratio = static_cast<double>(crash_tokens) / static_cast<double>(clean_tokens);
    std::printf(
        "[pipeline] %d long documents, %d runs killed with SIGKILL, resumed: output identical; model work %lld tokens "
        "vs %lld uninterrupted (%.2fx)\n",
        kDocs, kills, static_cast<long long>(crash_tokens), static_cast<long long>(clean_tokens), ratio);
    EXPECT_GE(kills, 10) << "the runs finished too fast to be interrupted";
    EXPECT_LE(ratio, 1.3);
    EXPECT_GE(ratio, 0.9) << "the ledger lost the killed runs' work";
}

// The documents companies send, through `extract` and `verify`: a mail with a CSV attachment, a
// Windows-1252 page, a semicolon CSV — each read (status ok), each result verified.
TEST(PipelineE2E, mail_csv_and_legacy_encodings_extract_and_verify) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"customer":{"type":"string","maxLength":20}},"required":["customer"]})";
    std::ofstream(tmp.path / "order.eml", std::ios::binary)
        << "Return-Path: <a@kunde.example>\r\nFrom: =?ISO-8859-1?Q?M=FCller?= <a@kunde.example>\r\nSubject: "
           "Bestellung\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; "
           "charset=utf-8\r\n\r\nBitte liefern.\r\n"
           "--B\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; "
           "filename=pos.csv\r\n\r\nArtikel;Menge\r\nSchrauben;100\r\n"
           "--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=rechnung.pdf\r\n\r\n"
        << tf::test::text_pdf({{{72, 700, 12, "Rechnung 2291 an Kunde Koerber AG"}}}) << "\r\n--B--\r\n";
    std::ofstream(tmp.path / "page.html", std::ios::binary)
        << "<html><head><meta charset=\"windows-1252\"></head><body><p>Kunde: K\xF6rber AG, 99 \x80</p></body></html>";
    std::ofstream(tmp.path / "list.csv", std::ios::binary) << "Kunde;Betrag\nM\xFCller;1.234,56\n";
    auto args = extract_args(tmp, "o.jsonl");
    for (const char* f : {"order.eml", "page.html", "list.csv"}) args.push_back((tmp.path / f).string());
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = lines(slurp(tmp.path / "o.jsonl"));
    ASSERT_EQ(out.size(), 5u);  // the message, its two attachments, the page, the list
    for (const auto& l : out) EXPECT_EQ(l["status"], "ok") << l.dump();
    EXPECT_EQ(out[1]["path"], (tmp.path / "order.eml").string() + "#attachment/1/pos.csv") << out[1].dump();
    EXPECT_EQ(out[1]["parent"], (tmp.path / "order.eml").string()) << out[1].dump();
    EXPECT_EQ(out[2]["path"], (tmp.path / "order.eml").string() + "#attachment/2/rechnung.pdf") << out[2].dump();
    EXPECT_EQ(out[2]["parent"], (tmp.path / "order.eml").string()) << out[2].dump();
    EXPECT_FALSE(out[0].contains("parent"));
    auto shown =
        tf::test::run_terraferma({"text", (tmp.path / "order.eml").string(), (tmp.path / "page.html").string()});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("From: Müller <a@kunde.example>"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("## Attachment: pos.csv\n\n(attachment 1, a document of its own)"), std::string::npos)
        << shown.out;
    EXPECT_NE(shown.out.find("Artikel\tMenge\nSchrauben\t100"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("Kunde: Körber AG, 99 €"), std::string::npos) << shown.out;
    auto verify = tf::test::run_terraferma({"verify", (tmp.path / "o.manifest.json").string()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// PDFs as companies have them: a filled form, an XFA form, a paper in two columns and an
// encrypted statement (its password from a file) — each extracted, recorded and verified.
TEST(PipelineE2E, forms_columns_and_encrypted_pdfs_extract_and_verify) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"name":{"type":"string","maxLength":20}},"required":["name"]})";
    std::vector<std::string> words;
    const std::vector<std::pair<std::string, std::string>> files = {
        {"tax-form.pdf", tf::test::filled_acroform()},
        {"claim.pdf", tf::test::xfa_form(true)},
        {"paper.pdf", tf::test::two_column_pdf(words)},
        {"statement.pdf",
         tf::test::encrypted(tf::test::text_pdf({{{72, 700, 12, "Salary statement, Jane Example"}}}), "pw-2025")}};
    auto args = extract_args(tmp, "o.jsonl");
    for (const auto& [name, bytes] : files) {
        std::ofstream(tmp.path / name, std::ios::binary) << bytes;
        args.push_back((tmp.path / name).string());
    }
    std::ofstream(tmp.path / "passwords") << "pw-2025\n";
    args.push_back("--password-file");
    args.push_back((tmp.path / "passwords").string());
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = lines(slurp(tmp.path / "o.jsonl"));
    ASSERT_EQ(out.size(), files.size());
    for (const auto& l : out) EXPECT_EQ(l["status"], "ok") << l.dump();
    auto verify = tf::test::run_terraferma(
        {"verify", (tmp.path / "o.manifest.json").string(), "--password-file", (tmp.path / "passwords").string()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    // Without the password the encrypted document cannot be re-read: verify says so.
    auto blind = tf::test::run_terraferma({"verify", (tmp.path / "o.manifest.json").string()});
    EXPECT_NE(blind.exit_code, 0) << blind.out;
}

// A watched inbox: an arriving message and its attachment are two results, the attachment
// linked to its message; both move with the file, and the manifest (which names the moved
// message's attachment by its new address) verifies.
TEST(PipelineE2E, watch_takes_a_message_and_its_attachments_together) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    const fs::path inbox = tmp.path / "inbox", done = tmp.path / "done";
    fs::create_directories(inbox);
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"customer":{"type":"string","maxLength":20}},"required":["customer"]})";
    std::ofstream(tmp.path / "order.eml", std::ios::binary)
        << "From: a@kunde.example\r\nSubject: Bestellung\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nBitte liefern.\r\n"
           "--B\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=pos.csv\r\n\r\n"
           "Artikel;Menge\r\nSchrauben;100\r\n--B--\r\n";
    fs::last_write_time(tmp.path / "order.eml", fs::file_time_type::clock::now() - std::chrono::seconds(10));
    fs::rename(tmp.path / "order.eml", inbox / "order.eml");
    auto args = extract_args(tmp, "o.jsonl");
    for (const std::string& x : {std::string("--watch"), inbox.string(), std::string("--move-to"), done.string(),
                                 std::string("--poll"), std::string("0.1")})
        args.push_back(x);
    std::vector<std::string> all = {TF_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& x : all) argv.push_back(x.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (int i = 0; i < 1200 && !fs::exists(done / "order.eml"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(fs::exists(done / "order.eml"));
    const auto out = lines(slurp(tmp.path / "o.jsonl"));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0]["path"], (inbox / "order.eml").string());
    EXPECT_EQ(out[1]["path"], (inbox / "order.eml").string() + "#attachment/1/pos.csv");
    EXPECT_EQ(out[1]["parent"], (inbox / "order.eml").string());
    auto verify = tf::test::run_terraferma({"verify", (tmp.path / "o.manifest.json").string()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// Office files as companies send them: a workbook with numbers and dates, and a Word file with a
// header, a footnote and a text box (Word's DrawingML choice with its VML fallback copy) —
// extracted, shown by `text` as the model gets them, and verified.
TEST(PipelineE2E, office_files_extract_and_verify) {
    TF_REQUIRE_REFERENCE();
    TempDir tmp;
    std::ofstream(tmp.path / "s.json")
        << R"({"type":"object","properties":{"customer":{"type":"string","maxLength":20}},"required":["customer"]})";
    const std::string sml = R"( xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" )"
                            R"(xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships")";
    std::ofstream(tmp.path / "invoices.xlsx", std::ios::binary) << tf::test::make_zip(
        {{"[Content_Types].xml", "<Types/>"},
         {"xl/workbook.xml",
          "<workbook" + sml + R"(><sheets><sheet name="Open" sheetId="1" r:id="rId1"/></sheets></workbook>)"},
         {"xl/_rels/workbook.xml.rels",
          R"(<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>)"},
         {"xl/styles.xml",
          "<styleSheet" + sml + R"(><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>)"},
         {"xl/worksheets/sheet1.xml",
          "<worksheet" + sml +
              R"(><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Customer</t></is></c><c r="B1" t="inlineStr"><is><t>Total</t></is></c><c r="C1" t="inlineStr"><is><t>Due</t></is></c></row>)"
              R"(<row r="2"><c r="A2" t="inlineStr"><is><t>Koerber AG</t></is></c><c r="B2"><v>1234.56</v></c><c r="C2" s="1"><v>45322</v></c></row></sheetData></worksheet>)"}});
    const std::string wml = R"(xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" )"
                            R"(xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" )"
                            R"(xmlns:v="urn:schemas-microsoft-com:vml" )"
                            R"(xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape")";
    auto part = [&](const std::string& root, const std::string& inner) {
        return "<" + root + " " + wml + ">" + inner + "</" + root + ">";
    };
    std::ofstream(tmp.path / "letter.docx", std::ios::binary) << tf::test::make_zip(
        {{"word/document.xml",
          part("w:document",
               "<w:body><w:p><w:r><w:t>Order from Koerber AG.</w:t></w:r><w:r><w:footnoteReference "
               "w:id=\"1\"/></w:r></w:p>"
               "<w:p><w:r><mc:AlternateContent><mc:Choice "
               "Requires=\"wps\"><w:drawing><wps:txbx><w:txbxContent><w:p><w:r>"
               "<w:t>Datum "
               "plane</w:t></w:r></w:p></w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict>"
               "<v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>Datum "
               "plane</w:t></w:r></w:p></w:txbxContent></v:textbox>"
               "</v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p></w:body>")},
         {"word/header1.xml", part("w:hdr", "<w:p><w:r><w:t>ACME confidential</w:t></w:r></w:p>")},
         {"word/footnotes.xml",
          part("w:footnotes",
               "<w:footnote w:id=\"1\"><w:p><w:r><w:t>Delivery by 2024-02-01.</w:t></w:r></w:p></w:footnote>")}});
    auto args = extract_args(tmp, "o.jsonl");
    for (const char* f : {"invoices.xlsx", "letter.docx"}) args.push_back((tmp.path / f).string());
    auto r = tf::test::run_terraferma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = lines(slurp(tmp.path / "o.jsonl"));
    ASSERT_EQ(out.size(), 2u);
    for (const auto& l : out) EXPECT_EQ(l["status"], "ok") << l.dump();
    auto shown =
        tf::test::run_terraferma({"text", (tmp.path / "invoices.xlsx").string(), (tmp.path / "letter.docx").string()});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("Koerber AG\t1234.56\t2024-01-31"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("## Header\n\nACME confidential"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("Order from Koerber AG.[^1]"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("[^1]: Delivery by 2024-02-01."), std::string::npos) << shown.out;
    const size_t box = shown.out.find("Datum plane");
    ASSERT_NE(box, std::string::npos) << shown.out;
    EXPECT_EQ(shown.out.find("Datum plane", box + 1), std::string::npos) << "a text box read once: " << shown.out;
    auto verify = tf::test::run_terraferma({"verify", (tmp.path / "o.manifest.json").string()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
