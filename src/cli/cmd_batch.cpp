// terraferma batch IN.jsonl -o OUT.jsonl -m MODEL: a file in the OpenAI Batch API's input
// format ({"custom_id", "method": "POST", "url", "body"} per line, for /v1/chat/completions,
// /v1/completions and /v1/embeddings) answered locally in its output format ({"id",
// "custom_id", "response": {"status_code", "request_id", "body"}, "error"}), so a cloud batch
// job moves here unchanged. Requests run through the server's continuous-batching scheduler
// (--parallel at once); every answer is kept in the job store the moment it is done, so an
// interrupted batch resumes without recomputing, and the output is written at the end,
// atomically, in input order.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include "api/openai_answer.h"
#include "api/openai_response.h"
#include "cli/command.h"
#include "cli/kv_cache_flags.h"
#include "cli/model_argument.h"
#include "pipeline/store.h"
#include "util/progress.h"
#include "util/sha256.h"
#include "util/thread_pool.h"

namespace tf::cli {

namespace {

using ojson = nlohmann::ordered_json;

double cpu_seconds_now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string sha_of(const std::string& s) {
    return sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

struct Request {
    size_t line = 0;
    std::string custom_id, method, url, key;
    ojson body;
};

// Lines that cannot be told apart or answered at all (not JSON, no custom_id, a custom_id
// twice) make the whole file invalid, as they do for OpenAI; a request the API would refuse
// gets its error in the output instead.
Result<std::vector<Request>> read_requests(const std::string& path, const std::string& text) {
    std::vector<Request> out;
    std::set<std::string> ids;
    size_t line_no = 0;
    size_t at = 0;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(at, nl - at);
        at = nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const std::string where = path + ":" + std::to_string(line_no) + ": ";
        ojson j = ojson::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return Error{where + "not a JSON object"};
        if (!j.contains("custom_id") || !j["custom_id"].is_string() || j["custom_id"].get<std::string>().empty()) {
            return Error{where + "'custom_id' must be a non-empty string"};
        }
        Request r;
        r.line = line_no;
        r.custom_id = j["custom_id"].get<std::string>();
        if (!ids.insert(r.custom_id).second) return Error{where + "custom_id '" + r.custom_id + "' appears twice"};
        r.method = j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : "";
        r.url = j.contains("url") && j["url"].is_string() ? j["url"].get<std::string>() : "";
        r.body = j.contains("body") ? j["body"] : ojson();
        r.key = sha_of(r.method + " " + r.url + "\n" + r.body.dump());
        out.push_back(std::move(r));
    }
    if (out.empty()) return Error{path + ": no requests"};
    return out;
}

// The response a request gets: {"status_code", "body"} or an {"error"} for a line that is no
// API request.
ojson answer(api::Service& svc, const Request& r, int timeout_s) {
    auto error = [](const std::string& code, const std::string& message) {
        return ojson{{"error", {{"code", code}, {"message", message}}}};
    };
    if (r.method != "POST") return error("invalid_method", "method must be POST");
    if (!r.body.is_object()) return error("invalid_body", "body must be a JSON object");
    if (r.body.contains("stream") && r.body["stream"] == true)
        return error("invalid_body", "streaming is not available in a batch");
    api::Reply res;
    try {
        if (r.url == "/v1/chat/completions")
            res = api::openai::chat_completion(svc, r.body, timeout_s);
        else if (r.url == "/v1/completions")
            res = api::openai::completion(svc, r.body, timeout_s);
        else if (r.url == "/v1/embeddings")
            res = api::openai::embeddings(svc, r.body);
        else
            return error("invalid_url", "url must be /v1/chat/completions, /v1/completions or /v1/embeddings");
    } catch (const std::exception& e) {  // a field of an unexpected type deep in the body
        res = api::openai::failure(api::bad_request(std::string("invalid request: ") + e.what()));
    }
    return ojson{{"status_code", res.status}, {"body", res.body}};
}

}  // namespace

void add_batch_command(CLI::App& root, Commands& commands) {
    struct Args {
        std::string input, output, model, store = ".terraferma/jobs.sqlite";
        int parallel = 4, ctx = 4096, threads = 0, timeout = 600;
        double watts = 15.0;
    };
    auto a = std::make_shared<Args>();
    auto kv = std::make_shared<KvCacheFlags>();
    CLI::App* app = root.add_subcommand(
        "batch", "Answer a file of requests in the OpenAI Batch format (chat/completions, completions, embeddings)");
    app->add_option("input", a->input, "Requests, one JSON object per line (- for standard input)")->required();
    app->add_option("-o,--output", a->output,
                    "Answers in the OpenAI batch output format (written atomically; default: standard output)");
    add_model_option(
        app, a->model,
        "GGUF model file or store name answering every request (the requests' \"model\" field is not used)");
    app->add_option("--parallel", a->parallel, "Requests generated at once (continuous batching)")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    app->add_option("-c,--ctx-size", a->ctx, "Context per request in tokens")
        ->capture_default_str()
        ->check(CLI::Range(64, 1 << 20));
    app->add_option("-t,--threads", a->threads, "Compute threads (default: all cores)");
    kv->add_to(app);
    app->add_option("--store", a->store, "Job store keeping every answer, so an interrupted batch resumes")
        ->capture_default_str();
    app->add_option("--watts-per-core", a->watts, "Energy estimate per busy core, for the ledger")
        ->capture_default_str();
    app->add_option("--timeout", a->timeout, "Seconds one request may generate")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    commands.push_back(
        {app, [a, kv]() {
             const auto t0 = std::chrono::steady_clock::now();
             const double cpu0 = cpu_seconds_now();
             const int64_t started_at = static_cast<int64_t>(std::time(nullptr));
             std::string text;
             if (a->input == "-") {
                 text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
             } else {
                 std::ifstream f(a->input, std::ios::binary);
                 if (!f) {
                     print_error("batch", a->input + ": cannot open");
                     return kExitFailure;
                 }
                 text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
             }
             auto requests = read_requests(a->input, text);
             if (!requests) {
                 print_error("batch", requests.error().message);
                 return kExitFailure;
             }
             api::ServiceOptions so;
             so.scheduler.n_slots = a->parallel;
             so.scheduler.n_ctx_per_slot = a->ctx;
             so.scheduler.n_threads = a->threads > 0 ? a->threads : ThreadPool::default_threads();
             so.scheduler.swa_extra = kv->swa_extra();
             if (Status st = kv->types(so.scheduler.k_type, so.scheduler.v_type); !st) {
                 print_error("batch", st.error().message);
                 return kExitUsage;
             }
             so.scheduler.max_queue = a->parallel * 2;
             auto svc = api::Service::load(a->model, so);
             if (!svc) {
                 print_error("batch", svc.error().message);
                 return kExitFailure;
             }
             auto store = pipeline::open_sqlite_store(a->store);
             if (!store) {
                 print_error("batch", store.error().message);
                 (*svc)->scheduler().stop();
                 return kExitFailure;
             }
             const std::string model_sha = (*svc)->model().file->content_sha256();
             const std::string task_key = "batch:" + model_sha;

             std::atomic<size_t> next{0}, done{0};
             std::atomic<uint64_t> computed{0};
             std::mutex mu;
             std::string failure;
             Progress progress("batch", true, Progress::Off::Lines, "requests");
             auto worker = [&]() {
                 while (true) {
                     const size_t i = next++;
                     if (i >= requests->size()) return;
                     const Request& r = (*requests)[i];
                     auto have = (*store)->get(r.key, task_key);
                     if (have && !have->has_value()) {
                         const ojson res = answer(**svc, r, a->timeout);
                         pipeline::JobRecord rec{r.key,
                                                 task_key,
                                                 r.custom_id,
                                                 "ok",
                                                 res.dump(-1, ' ', false, ojson::error_handler_t::replace),
                                                 ""};
                         if (Status st = (*store)->put(rec); !st) have = st.error();
                         ++computed;
                     }
                     if (!have) {
                         std::lock_guard<std::mutex> lock(mu);
                         failure = have.error().message;
                         return;
                     }
                     const size_t d = ++done;
                     std::lock_guard<std::mutex> lock(mu);
                     char detail[64];
                     std::snprintf(detail, sizeof detail, "%.2f requests/s",
                                   static_cast<double>(d) / std::max(progress.elapsed(), 1e-3));
                     progress.update(d, requests->size(), detail);
                 }
             };
             std::vector<std::thread> threads;
             for (int w = 0; w < std::min<int>(a->parallel, static_cast<int>(requests->size())); ++w)
                 threads.emplace_back(worker);
             for (auto& t : threads) t.join();
             progress.finish();
             (*svc)->scheduler().stop();
             if (!failure.empty()) {
                 print_error("batch", "job store: " + failure);
                 return kExitFailure;
             }

             std::string out;
             int64_t tokens_in = 0, tokens_out = 0, errors = 0;
             for (const Request& r : *requests) {
                 auto rec = (*store)->get(r.key, task_key);
                 if (!rec || !rec->has_value()) {
                     print_error("batch", "job store: the answer to " + r.custom_id + " is missing");
                     return kExitFailure;
                 }
                 const ojson res = ojson::parse((**rec).output, nullptr, false);
                 const std::string rid = sha_of(r.custom_id + "\n" + r.key).substr(0, 24);
                 ojson line = {{"id", "batch_req_" + rid}, {"custom_id", r.custom_id}};
                 if (res.is_object() && res.contains("status_code")) {
                     line["response"] = {
                         {"status_code", res["status_code"]}, {"request_id", "req_" + rid}, {"body", res["body"]}};
                     line["error"] = nullptr;
                     if (res["status_code"] != 200) ++errors;
                     if (res["body"].is_object() && res["body"].contains("usage") && res["body"]["usage"].is_object()) {
                         tokens_in += res["body"]["usage"].value("prompt_tokens", int64_t{0});
                         tokens_out += res["body"]["usage"].value("completion_tokens", int64_t{0});
                     }
                 } else {
                     line["response"] = nullptr;
                     line["error"] = res.is_object() && res.contains("error")
                                         ? res["error"]
                                         : ojson{{"code", "internal"}, {"message", "unreadable stored answer"}};
                     ++errors;
                 }
                 out += line.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
             }
             if (a->output.empty()) {
                 std::fwrite(out.data(), 1, out.size(), stdout);
                 std::fflush(stdout);
             } else {
                 const std::string tmp = a->output + ".partial";
                 std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
                 if (!f || !f.write(out.data(), static_cast<std::streamsize>(out.size())) || !f.flush()) {
                     print_error("batch", a->output + ": cannot write");
                     return kExitFailure;
                 }
                 f.close();
                 std::error_code ec;
                 std::filesystem::rename(tmp, a->output, ec);
                 if (ec) {
                     print_error("batch", a->output + ": cannot write: " + ec.message());
                     return kExitFailure;
                 }
             }
             const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
             pipeline::RunRecord rr;
             rr.started_at = started_at;
             rr.task = "batch";
             rr.model_sha256 = model_sha;
             rr.model_name = std::filesystem::path(a->model).stem().string();
             rr.documents = static_cast<int64_t>(requests->size());
             rr.computed = static_cast<int64_t>(computed.load());
             rr.errors = errors;
             rr.tokens_in = tokens_in;
             rr.tokens_out = tokens_out;
             rr.wall_seconds = secs;
             rr.cpu_seconds = cpu_seconds_now() - cpu0;
             rr.energy_wh = rr.cpu_seconds * a->watts / 3600.0;
             rr.energy_source = "cpu-time x " + std::to_string(static_cast<int>(a->watts)) + " W";
             if (Status st = (*store)->record_run(rr); !st) print_error("batch", "ledger: " + st.error().message);
             std::fprintf(stderr,
                          "terraferma: batch: %zu requests (%llu computed, %zu from the store, %lld with errors), %lld "
                          "tokens in, %lld out, %.1f s\n",
                          requests->size(), static_cast<unsigned long long>(computed.load()),
                          requests->size() - computed.load(), static_cast<long long>(errors),
                          static_cast<long long>(tokens_in), static_cast<long long>(tokens_out), secs);
             return kExitOk;
         }});
}

}  // namespace tf::cli
