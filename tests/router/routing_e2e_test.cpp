// The router end to end: a `terraferma serve --routes` whose remote tier is a second, real
// `terraferma serve` on 127.0.0.1 behind a recording proxy (so the test sees exactly what left
// the machine). Personal data under `block` never reaches it; under `redact` it receives
// placeholders and the client gets the values back, whole and streamed; each escalation reason
// is observed; a dead endpoint falls back or answers 503; the audit log verifies and betrays
// tampering.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/reference.h"
#include "support/run.h"
#include "support/server.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const char* kIban = "DE89370400440532013000";
const char* kCard = "4111 1111 1111 1111";
const char* kCodiceFiscale = "RSSMRA85T10A562S";
const char* kKey = "sk-test-7f3a9c";

// Forwards /v1/chat/completions to the remote server and keeps every body it forwarded.
class RecordingProxy {
  public:
    explicit RecordingProxy(int upstream_port) : upstream_(upstream_port) {
        srv_.Post(R"(/v1/.*)", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                bodies_.push_back(req.body);
                paths_.push_back(req.path);
            }
            const bool stream = json::parse(req.body, nullptr, false).value("stream", false);
            const httplib::Headers auth = {{"Authorization", req.get_header_value("Authorization")}};
            if (!stream) {
                httplib::Client c("127.0.0.1", upstream_);
                c.set_read_timeout(120, 0);
                auto r = c.Post(req.path, auth, req.body, "application/json");
                if (!r) {
                    res.status = 502;
                    return;
                }
                res.status = r->status;
                res.set_content(r->body, "application/json");
                return;
            }
            const std::string body = req.body, key = req.get_header_value("Authorization"), path = req.path;
            const int port = upstream_;
            res.set_chunked_content_provider("text/event-stream", [body, key, path, port](size_t,
                                                                                          httplib::DataSink& sink) {
                httplib::Client c("127.0.0.1", port);
                c.set_read_timeout(120, 0);
                httplib::Request up;
                up.method = "POST";
                up.path = path;
                up.body = body;
                up.set_header("Content-Type", "application/json");
                up.set_header("Authorization", key);
                up.content_receiver = [&sink](const char* d, size_t n, uint64_t, uint64_t) { return sink.write(d, n); };
                c.send(up);
                sink.done();
                return true;
            });
        });
        port_ = srv_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { srv_.listen_after_bind(); });
    }
    ~RecordingProxy() {
        srv_.stop();
        thread_.join();
    }
    int port() const { return port_; }
    std::vector<std::string> bodies() {
        std::lock_guard<std::mutex> lock(mu_);
        return bodies_;
    }
    size_t count() { return bodies().size(); }
    std::vector<std::string> paths() {
        std::lock_guard<std::mutex> lock(mu_);
        return paths_;
    }

  private:
    httplib::Server srv_;
    std::thread thread_;
    int port_ = 0, upstream_;
    std::mutex mu_;
    std::vector<std::string> bodies_, paths_;
};

struct TempDir {
    fs::path path;
    TempDir() {
        path =
            fs::temp_directory_path() / ("tf-route-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

json user(const std::string& text, int max_tokens = 8) {
    return {{"messages", json::array({{{"role", "user"}, {"content", text}}})}, {"max_tokens", max_tokens}};
}

struct Answer {
    int status = 0;
    json body;
    std::string route_header;
};

Answer post(int port, json body, const std::string& model, httplib::Headers headers = {}) {
    body["model"] = model;
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(300, 0);
    auto r = c.Post("/v1/chat/completions", headers, body.dump(), "application/json");
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false), r->get_header_value("x-terraferma-route")};
}

// A streamed answer: the text of every content delta and the final usage chunk.
struct Streamed {
    int status = 0;
    std::string text;
    json usage;
    std::string raw;
};

Streamed post_stream(int port, json body, const std::string& model, const char* path = "/v1/chat/completions") {
    body["model"] = model;
    body["stream"] = true;
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(300, 0);
    Streamed s;
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
        s.raw.append(d, n);
        return true;
    };
    auto r = c.send(req);
    s.status = r ? r->status : 0;
    std::istringstream in(s.raw);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("data: ", 0) != 0 || line == "data: [DONE]") continue;
        const json j = json::parse(line.substr(6), nullptr, false);
        if (j.is_discarded()) continue;
        if (j.contains("usage") && j["usage"].is_object()) s.usage = j["usage"];
        if (!j.contains("choices")) continue;
        for (const auto& c : j["choices"])
            if (c.contains("delta") && c["delta"].contains("content") && c["delta"]["content"].is_string())
                s.text += c["delta"]["content"].get<std::string>();
    }
    return s;
}

std::string reason_of(const json& body) {
    return body.contains("usage") && body["usage"].contains("route") ? body["usage"]["route"].value("reason", "") : "";
}
std::string tier_of(const json& body) {
    return body.contains("usage") && body["usage"].contains("route") ? body["usage"]["route"].value("tier", "") : "";
}

class Routing : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!tf::test::have_reference()) GTEST_SKIP() << "no reference models";
        const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
        // The remote wants a key; the router reads it from the environment the local server
        // inherits, and never writes it anywhere.
        ::setenv("TF_TEST_CLOUD_KEY", kKey, 1);
        remote_ = std::make_unique<tf::test::ServerProcess>(std::vector<std::string>{
            "-m", "big=" + model, "-c", "2048", "--parallel", "2", "-t", "1", "--api-key", kKey});
        ASSERT_GT(remote_->port(), 0) << remote_->stderr_text();
        proxy_ = std::make_unique<RecordingProxy>(remote_->port());
        ASSERT_GT(proxy_->port(), 0);
        // A port nothing listens on: an endpoint that is down.
        const int dead_port = tf::test::free_port();  // nothing listens: connections are refused
        audit_ = tmp_.path / "audit.jsonl";
        std::ofstream(tmp_.path / "routes.toml")
            << "audit_log = \"audit.jsonl\"\n"
               "[endpoints.cloud]\nurl = \"http://127.0.0.1:"
            << proxy_->port()
            << "/v1\"\nmodel = \"big\"\nretries = 0\nusd_per_mtok_in = 1.0\nusd_per_mtok_out = 2.0\n"
               "api_key_env = \"TF_TEST_CLOUD_KEY\"\n"
               "[endpoints.dead]\nurl = \"http://127.0.0.1:"
            << dead_port
            << "/v1\"\nretries = 1\nbreaker_failures = 2\nbreaker_open_s = 600\nconnect_timeout_s = 2\ntimeout_s = 10\n"
               "[routes.blocked]\ntiers = [\"cloud\"]\n"
               "[routes.guarded]\ntiers = [\"local\", \"cloud\"]\nprivacy = \"block\"\n"
               "[routes.guarded.escalate]\nmin_mean_logprob = -0.01\n"
               "[routes.redacting]\ntiers = [\"cloud\"]\nprivacy = \"redact\"\n"
               "[routes.open]\ntiers = [\"cloud\"]\nprivacy = \"allow\"\n"
               "[routes.cascade]\ntiers = [\"local\", \"cloud\"]\nprivacy = \"allow\"\n"
               "[routes.unsure]\ntiers = [\"local\", \"cloud\"]\nprivacy = \"allow\"\n"
               "[routes.unsure.escalate]\nmin_mean_logprob = -0.01\n"
               "[routes.peak]\ntiers = [\"local\", \"cloud\"]\nprivacy = \"allow\"\n"
               "[routes.peak.escalate]\nmax_queue_wait_ms = 0\n"
               "[routes.dead_first]\ntiers = [\"dead\", \"local\"]\nprivacy = \"allow\"\n"
               "[routes.dead_only]\ntiers = [\"dead\"]\nprivacy = \"allow\"\n"
               "[routes.embed_guarded]\ntiers = [\"cloud\"]\n";
        local_ = std::make_unique<tf::test::ServerProcess>(
            std::vector<std::string>{"-m", "local=" + model, "-c", "256", "--parallel", "1", "-t", "1", "--routes",
                                     (tmp_.path / "routes.toml").string()});
        ASSERT_GT(local_->port(), 0) << local_->stderr_text();
    }

    bool proxy_saw(const std::string& needle) {
        for (const auto& b : proxy_->bodies())
            if (b.find(needle) != std::string::npos) return true;
        return false;
    }

    TempDir tmp_;
    fs::path audit_;
    std::unique_ptr<tf::test::ServerProcess> remote_, local_;
    std::unique_ptr<RecordingProxy> proxy_;
};

TEST_F(Routing, personal_data_under_block_never_leaves) {
    for (const char* secret : {kIban, kCard, kCodiceFiscale}) {
        // No local tier: refused, and nothing reached the remote.
        const Answer a = post(local_->port(), user(std::string("Please file this: ") + secret), "blocked");
        EXPECT_EQ(a.status, 403) << a.body.dump();
        EXPECT_NE(a.body.dump().find("may not leave"), std::string::npos) << a.body.dump();
        // A local tier first: even when its answer would escalate, it stays here.
        const Answer g = post(local_->port(), user(std::string("Please file this: ") + secret), "guarded");
        EXPECT_EQ(g.status, 200) << g.body.dump();
        EXPECT_EQ(tier_of(g.body), "local") << g.body.dump();
        EXPECT_NE(reason_of(g.body).find("personal data"), std::string::npos) << reason_of(g.body);
    }
    EXPECT_EQ(proxy_->count(), 0u);
    // Marked sensitive: even an `allow` route keeps it.
    const Answer s = post(local_->port(), user("nothing personal here"), "open", {{"X-Terraferma-Sensitive", "true"}});
    EXPECT_EQ(s.status, 403) << s.body.dump();
    EXPECT_EQ(proxy_->count(), 0u);
    // Without personal data the same route sends it.
    const Answer ok = post(local_->port(), user("What is the capital of France?"), "blocked");
    EXPECT_EQ(ok.status, 200) << ok.body.dump();
    EXPECT_EQ(ok.route_header, "blocked/cloud");
    EXPECT_EQ(proxy_->count(), 1u);
}

TEST_F(Routing, redact_sends_placeholders_and_restores_the_values) {
    // The remote model is held by a schema to answer with the placeholder it received, so the
    // restoration is observed on a real answer.
    json body = user(std::string("My IBAN is ") + kIban + ", card " + kCard + ", codice fiscale " + kCodiceFiscale, 64);
    body["response_format"] = {
        {"type", "json_schema"},
        {"json_schema",
         {{"name", "echo"},
          {"schema",
           {{"type", "object"},
            {"properties", {{"iban", {{"const", "[[IBAN_1]]"}}}, {"cf", {{"const", "[[IT_CODICE_FISCALE_1]]"}}}}},
            {"required", {"iban", "cf"}},
            {"additionalProperties", false}}}}}};
    const Answer a = post(local_->port(), body, "redacting");
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(tier_of(a.body), "cloud");
    const json content = json::parse(a.body["choices"][0]["message"]["content"].get<std::string>(), nullptr, false);
    ASSERT_FALSE(content.is_discarded()) << a.body.dump();
    EXPECT_EQ(content["iban"], kIban);
    EXPECT_EQ(content["cf"], kCodiceFiscale);

    const Streamed s = post_stream(local_->port(), body, "redacting");
    EXPECT_EQ(s.status, 200);
    const json streamed = json::parse(s.text, nullptr, false);
    ASSERT_FALSE(streamed.is_discarded()) << s.raw;
    EXPECT_EQ(streamed["iban"], kIban);
    EXPECT_EQ(streamed["cf"], kCodiceFiscale);
    EXPECT_EQ(s.usage["route"]["tier"], "cloud") << s.raw;

    // What left: placeholders, never the values.
    ASSERT_EQ(proxy_->count(), 2u);
    EXPECT_FALSE(proxy_saw(kIban));
    EXPECT_FALSE(proxy_saw("4111"));
    EXPECT_FALSE(proxy_saw(kCodiceFiscale));
    EXPECT_TRUE(proxy_saw("[[IBAN_1]]"));
    EXPECT_TRUE(proxy_saw("[[CARD_1]]"));
}

TEST_F(Routing, escalation_on_schema_context_confidence_queue_and_request) {
    // Schema: the local answer is cut off by max_tokens before its JSON closes.
    json cut = user("Give the total", 3);
    cut["response_format"] = {{"type", "json_schema"},
                              {"json_schema",
                               {{"name", "t"},
                                {"schema",
                                 {{"type", "object"},
                                  {"properties", {{"total", {{"type", "string"}, {"minLength", 20}}}}},
                                  {"required", {"total"}}}}}}};
    const Answer schema = post(local_->port(), cut, "cascade");
    ASSERT_EQ(schema.status, 200) << schema.body.dump();
    EXPECT_EQ(tier_of(schema.body), "cloud");
    EXPECT_NE(reason_of(schema.body).find("local: schema"), std::string::npos) << reason_of(schema.body);

    // Context: more prompt than the local model's 256 tokens, well within the remote's.
    std::string longer;
    for (int i = 0; i < 120; ++i) longer += "invoice line " + std::to_string(i) + ", ";
    const Answer context = post(local_->port(), user(longer), "cascade");
    ASSERT_EQ(context.status, 200) << context.body.dump();
    EXPECT_EQ(tier_of(context.body), "cloud");
    EXPECT_NE(reason_of(context.body).find("local: context"), std::string::npos) << reason_of(context.body);

    // Confidence: a random tiny model is never sure of anything.
    const Answer unsure = post(local_->port(), user("Hello"), "unsure");
    ASSERT_EQ(unsure.status, 200) << unsure.body.dump();
    EXPECT_EQ(tier_of(unsure.body), "cloud");
    EXPECT_NE(reason_of(unsure.body).find("local: confidence: mean log-probability"), std::string::npos)
        << reason_of(unsure.body);
    EXPECT_TRUE(unsure.body["choices"][0]["logprobs"].is_null()) << "log-probabilities the client did not ask for";

    // A confident answer stays local.
    const Answer plain = post(local_->port(), user("Hello"), "cascade");
    EXPECT_EQ(tier_of(plain.body), "local") << plain.body.dump();
    EXPECT_EQ(plain.route_header, "cascade/local");

    // Explicit: the header picks the tier.
    const Answer forced = post(local_->port(), user("Hello"), "cascade", {{"X-Terraferma-Tier", "cloud"}});
    EXPECT_EQ(tier_of(forced.body), "cloud") << forced.body.dump();

    // Queue: while the one local slot is busy, the expected wait exceeds 0 ms.
    bool overflowed = false;
    for (int attempt = 0; attempt < 8 && !overflowed; ++attempt) {
        json hold = user("Write a long story", 200);
        hold["response_format"] = {
            {"type", "json_schema"},
            {"json_schema", {{"name", "s"}, {"schema", {{"type", "string"}, {"minLength", 190}, {"maxLength", 400}}}}}};
        std::thread busy([&] { post(local_->port(), hold, "local"); });
        // Until the slot is taken.
        for (int i = 0; i < 200; ++i) {
            httplib::Client c("127.0.0.1", local_->port());
            auto m = c.Get("/metrics");
            if (m && m->body.find("terraferma_active_requests{model=\"local\"} 1") != std::string::npos) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        const Answer peak = post(local_->port(), user("Hello"), "peak");
        busy.join();
        if (tier_of(peak.body) == "cloud") {
            EXPECT_NE(reason_of(peak.body).find("local: queue: expected wait"), std::string::npos)
                << reason_of(peak.body);
            overflowed = true;
        }
    }
    EXPECT_TRUE(overflowed) << "the busy slot was never observed";
}

TEST_F(Routing, streams_a_local_answer_as_it_is_generated_unless_it_must_pass_a_check_first) {
    // Nothing could send it on: token by token.
    json hello = user("Hello", 12);
    hello["seed"] = 42;
    const Streamed s = post_stream(local_->port(), hello, "cascade");
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(s.usage["route"]["tier"], "local") << s.raw;
    size_t deltas = 0;
    for (size_t at = 0; (at = s.raw.find("\"delta\":{\"content\"", at)) != std::string::npos; ++at) ++deltas;
    EXPECT_GE(deltas, 4u) << s.raw;
    // The same answer as asked of the model directly.
    const Streamed direct = post_stream(local_->port(), hello, "local");
    EXPECT_EQ(s.text, direct.text);
    // A confidence threshold: decided whole first, then sent (here by the remote tier).
    const Streamed checked = post_stream(local_->port(), user("Hello", 12), "unsure");
    EXPECT_EQ(checked.status, 200);
    EXPECT_EQ(checked.usage["route"]["tier"], "cloud") << checked.raw;
    EXPECT_FALSE(checked.text.empty()) << checked.raw;
}

TEST_F(Routing, completions_and_embeddings_go_through_routes_too) {
    // A legacy completion, redacted on its way out.
    json completion = {{"model", "redacting"}, {"prompt", std::string("Transfer to ") + kIban}, {"max_tokens", 6}};
    httplib::Client c("127.0.0.1", local_->port());
    c.set_read_timeout(120, 0);
    auto r = c.Post("/v1/completions", completion.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("x-terraferma-route"), "redacting/cloud");
    EXPECT_TRUE(json::parse(r->body)["choices"][0]["text"].is_string()) << r->body;
    ASSERT_EQ(proxy_->paths().back(), "/v1/completions");
    EXPECT_TRUE(proxy_saw("Transfer to [[IBAN_1]]"));
    EXPECT_FALSE(proxy_saw(kIban));

    // Streamed from the local tier, token by token, with the route in its usage chunk.
    const Streamed sr =
        post_stream(local_->port(), {{"prompt", "Once upon a time"}, {"max_tokens", 12}}, "cascade", "/v1/completions");
    const std::string& raw = sr.raw;
    EXPECT_EQ(sr.status, 200);
    size_t texts = 0;
    for (size_t at = 0; (at = raw.find("\"text\":", at)) != std::string::npos; ++at) ++texts;
    EXPECT_GE(texts, 4u) << raw;
    EXPECT_NE(raw.find("\"tier\":\"local\""), std::string::npos) << raw;
    EXPECT_NE(raw.find("data: [DONE]"), std::string::npos) << raw;

    // Embeddings: a vector from the remote tier; with personal data under block, refused.
    const size_t sent = proxy_->count();
    auto e = c.Post("/v1/embeddings", json{{"model", "embed_guarded"}, {"input", "quarterly report"}}.dump(),
                    "application/json");
    ASSERT_TRUE(e);
    ASSERT_EQ(e->status, 200) << e->body;
    const json ej = json::parse(e->body);
    EXPECT_GT(ej["data"][0]["embedding"].size(), 0u) << e->body;
    EXPECT_EQ(ej["usage"]["route"]["tier"], "cloud") << e->body;
    EXPECT_EQ(proxy_->count(), sent + 1);
    auto blocked = c.Post("/v1/embeddings",
                          json{{"model", "embed_guarded"}, {"input", {"fine", std::string("IBAN ") + kIban}}}.dump(),
                          "application/json");
    ASSERT_TRUE(blocked);
    EXPECT_EQ(blocked->status, 403) << blocked->body;
    EXPECT_EQ(proxy_->count(), sent + 1);
}

TEST_F(Routing, a_dead_endpoint_falls_back_or_answers_503_and_opens_its_circuit) {
    const Answer fallback = post(local_->port(), user("Hello"), "dead_first");
    ASSERT_EQ(fallback.status, 200) << fallback.body.dump();
    EXPECT_EQ(tier_of(fallback.body), "local");
    EXPECT_NE(reason_of(fallback.body).find("dead: failed"), std::string::npos) << reason_of(fallback.body);

    const Answer none = post(local_->port(), user("Hello"), "dead_only");
    EXPECT_EQ(none.status, 503) << none.body.dump();
    EXPECT_NE(none.body["error"]["message"].get<std::string>().find("no tier could answer"), std::string::npos);
    // Two failures opened the circuit: the next request does not even try.
    const Answer open = post(local_->port(), user("Hello"), "dead_first");
    EXPECT_NE(reason_of(open.body).find("circuit open"), std::string::npos) << reason_of(open.body);
}

// classify --route: the run's model first, the remote tier for documents it is unsure of, the
// document with an IBAN kept here (block); verify recomputes the local results and says which
// it cannot; the ledger has the remote tokens and their price.
TEST_F(Routing, documents_through_a_route_record_their_tier_and_verify) {
    const fs::path in = tmp_.path / "in";
    fs::create_directories(in);
    std::ofstream(in / "a.txt") << "Invoice 17 from ACME, total 300 EUR";
    std::ofstream(in / "b.txt") << "Please pay to IBAN " << kIban << " by Friday";
    std::ofstream(in / "c.txt") << "Meeting notes: the roadmap for next year";
    std::ofstream(tmp_.path / "docs.toml") << "[endpoints.cloud]\nurl = \"http://127.0.0.1:" << proxy_->port()
                                           << "/v1\"\nmodel = \"big\"\nusd_per_mtok_in = 1.0\nusd_per_mtok_out = 2.0\n"
                                              "api_key_env = \"TF_TEST_CLOUD_KEY\"\n"
                                              "[routes.docs]\ntiers = [\"here\", \"cloud\"]\nprivacy = \"block\"\n"
                                              "[routes.docs.escalate]\nmin_mean_logprob = -0.0000001\n";
    const std::string model = (tf::test::reference_dir() / "models/tiny-llama.gguf").string();
    const std::string store = (tmp_.path / "s.sqlite").string(), out = (tmp_.path / "out.jsonl").string();
    auto classify = [&](const std::string& output, std::vector<std::string> extra = {},
                        const std::string& in_store = "") {
        std::vector<std::string> args = {"classify",
                                         "-m",
                                         model,
                                         "--labels",
                                         "invoice,payment,notes",
                                         "--routes",
                                         (tmp_.path / "docs.toml").string(),
                                         "--route",
                                         "docs",
                                         "--store",
                                         in_store.empty() ? store : in_store,
                                         "-o",
                                         output,
                                         in.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return tf::test::run_terraferma(args);
    };
    auto r = classify(out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, json> by_file;
    std::istringstream lines(slurp(out));
    for (std::string l; std::getline(lines, l);) {
        const json j = json::parse(l);
        by_file[fs::path(j["path"].get<std::string>()).filename().string()] = j;
    }
    ASSERT_EQ(by_file.size(), 3u);
    for (const char* f : {"a.txt", "c.txt"}) {
        EXPECT_EQ(by_file[f]["route"]["tier"], "cloud") << by_file[f].dump();
        EXPECT_TRUE(by_file[f]["output"]["label"] == "invoice" || by_file[f]["output"]["label"] == "payment" ||
                    by_file[f]["output"]["label"] == "notes")
            << by_file[f].dump();
    }
    EXPECT_EQ(by_file["b.txt"]["route"]["tier"], "here") << by_file["b.txt"].dump();
    EXPECT_NE(by_file["b.txt"]["route"]["reason"].get<std::string>().find("personal data"), std::string::npos);
    EXPECT_EQ(proxy_->count(), 2u);
    EXPECT_FALSE(proxy_saw(kIban));

    auto v = tf::test::run_terraferma({"verify", (tmp_.path / "out.manifest.json").string()});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("1 identical, 2 skipped"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("2 documents were answered by a remote tier"), std::string::npos) << v.out;

    auto report = tf::test::run_terraferma({"report", "--store", store, "--json"});
    ASSERT_EQ(report.exit_code, 0) << report.err;
    const json rep = json::parse(report.out);
    EXPECT_GT(rep["total"]["remote"]["tokens_in"].get<int64_t>(), 0) << report.out;
    EXPECT_GT(rep["total"]["remote"]["spend"].get<double>(), 0.0) << report.out;

    // Again: every result from the store, the same lines, nothing sent.
    auto again = classify((tmp_.path / "again.jsonl").string());
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(slurp(tmp_.path / "again.jsonl"), slurp(out));
    EXPECT_EQ(proxy_->count(), 2u);
    // Marked sensitive (another store): nothing leaves.
    auto kept = classify((tmp_.path / "kept.jsonl").string(), {"--sensitive"}, (tmp_.path / "s2.sqlite").string());
    ASSERT_EQ(kept.exit_code, 0) << kept.err;
    EXPECT_EQ(proxy_->count(), 2u);
    EXPECT_EQ(slurp(tmp_.path / "kept.jsonl").find("\"remote\":true"), std::string::npos);
}

TEST_F(Routing, the_audit_chain_verifies_and_betrays_tampering) {
    post(local_->port(), user(std::string("IBAN ") + kIban), "guarded");
    post(local_->port(), user("Hello"), "open");
    json r = user(std::string("IBAN ") + kIban);
    post(local_->port(), r, "redacting");
    local_->stop();
    const std::string log = slurp(audit_);
    EXPECT_EQ(log.find("DE89"), std::string::npos) << "a value in the audit log";
    EXPECT_EQ(log.find(kKey), std::string::npos) << "the API key in the audit log";
    EXPECT_EQ(local_->stderr_text().find(kKey), std::string::npos) << "the API key in the server's log";
    EXPECT_NE(log.find("\"iban\":1"), std::string::npos) << log;
    EXPECT_NE(log.find("\"action\":\"redacted\""), std::string::npos) << log;
    auto ok = tf::test::run_terraferma({"audit", "verify", audit_.string()});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find("3 records, the chain holds"), std::string::npos) << ok.out;

    // An edited record.
    std::string edited = log;
    const size_t at = edited.find("\"tier\":\"local\"");
    ASSERT_NE(at, std::string::npos);
    edited.replace(at, 14, "\"tier\":\"cloud\"");
    std::ofstream(audit_, std::ios::trunc) << edited;
    auto bad = tf::test::run_terraferma({"audit", "verify", audit_.string()});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.out.find("line 1: its hash does not match"), std::string::npos) << bad.out;

    // A removed record.
    std::ofstream(audit_, std::ios::trunc) << log.substr(log.find('\n') + 1);
    auto gone = tf::test::run_terraferma({"audit", "verify", audit_.string()});
    EXPECT_EQ(gone.exit_code, 1);
    EXPECT_NE(gone.out.find("removed"), std::string::npos) << gone.out;
}

}  // namespace
