// `terraferma pull` against a fake hub and registry on 127.0.0.1 (tests/hub/fake_hub.h): the
// real binary, real HTTP(S), the faults of a real network.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "hub/fake_hub.h"
#include "hub/fake_proxy.h"
#include "support/reference.h"
#include "support/run.h"
#include "support/server.h"

namespace {

namespace fs = std::filesystem;
using tf::test::FakeFile;
using tf::test::FakeHub;
using tf::test::FakeRepo;
using tf::test::run_terraferma;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

size_t count_with(const std::vector<std::string>& log, const std::string& needle) {
    size_t n = 0;
    for (const auto& l : log) n += l.find(needle) != std::string::npos;
    return n;
}

// Range requests that reached the file server (curl repeats the header on the redirect).
size_t cdn_ranges(const std::vector<std::string>& log, const std::string& range = "Range: bytes=") {
    size_t n = 0;
    for (const auto& l : log) n += l.find("/cdn/") != std::string::npos && l.find(range) != std::string::npos;
    return n;
}

class Pull : public ::testing::Test {
  protected:
    fs::path dir;
    std::string q8, f32;  // model bytes
    std::vector<std::string> split_parts;
    std::unique_ptr<FakeHub> hub;

    void SetUp() override {
        TF_REQUIRE_REFERENCE();
        dir = fs::temp_directory_path() / ("tf-pull-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
        const fs::path models = tf::test::reference_dir() / "models";
        q8 = slurp(models / "tiny-llama-Q8_0.gguf");
        f32 = slurp(models / "tiny-llama.gguf");
        auto whole = tf::gguf::File::open((models / "tiny-llama-Q8_0.gguf").string());
        ASSERT_TRUE(whole.ok());
        const std::string first = (dir / "tiny-SPLIT-00001-of-00003.gguf").string();
        ASSERT_TRUE(tf::gguf::write_split(*whole, first, 3).ok());
        for (int k = 1; k <= 3; ++k) split_parts.push_back(slurp(*tf::gguf::split_part_path(first, k, 3)));

        ::setenv("TERRAFERMA_MODELS", (dir / "store").c_str(), 1);
        ::setenv("TERRAFERMA_PULL_BACKOFF_MS", "5", 1);
        for (const char* k :
             {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "TERRAFERMA_OFFLINE",
              "HF_HUB_OFFLINE", "TERRAFERMA_PULL_CONNECTIONS", "TERRAFERMA_PULL_SEGMENT_MIN", "http_proxy",
              "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "no_proxy", "NO_PROXY"})
            ::unsetenv(k);
    }
    void TearDown() override {
        hub.reset();
        fs::remove_all(dir);
    }

    FakeRepo tiny_repo() {
        FakeRepo r;
        r.files.push_back({"README.md", "# tiny\n", false});
        r.files.push_back({"tiny-Q8_0.gguf", q8});
        r.files.push_back({"tiny-F32.gguf", f32});
        for (int k = 0; k < 3; ++k)
            r.files.push_back({"split/tiny-SPLIT-0000" + std::to_string(k + 1) + "-of-00003.gguf", split_parts[k]});
        return r;
    }
    void start_hub() {
        hub = std::make_unique<FakeHub>();
        hub->add_repo("acme/tiny-GGUF", tiny_repo());
        ::setenv("HF_ENDPOINT", ("http://127.0.0.1:" + std::to_string(hub->start())).c_str(), 1);
    }
    fs::path blobs() const { return dir / "store" / "blobs"; }
    size_t blob_count() const {
        size_t n = 0;
        for (const auto& e : fs::directory_iterator(blobs()))
            n += e.path().filename().string().rfind("sha256-", 0) == 0;
        return n;
    }
    std::string logits(const std::string& model) {
        auto r = run_terraferma({"logits", "-m", model, "--ids", "1,2,3,4", "--top", "5"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out;
    }
};

TEST_F(Pull, by_quantization_tag_then_every_command_takes_the_name) {
    start_hub();
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("hf.co/acme/tiny-GGUF:q8_0"), std::string::npos) << r.out;
    // The listing came in pages; the file arrived through the redirect to the CDN.
    EXPECT_GE(count_with(hub->log(), "/tree/main"), 3u);
    EXPECT_EQ(count_with(hub->log(), "/resolve/main/tiny-Q8_0.gguf"), 1u);
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);

    auto list = run_terraferma({"list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    auto j = nlohmann::json::parse(list.out);
    ASSERT_EQ(j["models"].size(), 1u);
    EXPECT_EQ(j["models"][0]["digest"], "sha256:" + FakeHub::sha_of(q8));

    const std::string reference = logits((tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string());
    EXPECT_EQ(logits("hf.co/acme/tiny-GGUF:q8_0"), reference);
    auto run = run_terraferma({"run", "-m", "hf.co/acme/tiny-GGUF:q8_0", "-p", "hello", "-n", "4", "--temp", "0"});
    EXPECT_EQ(run.exit_code, 0) << run.err;

    // A second pull finds the blob in place and fetches nothing.
    hub->clear_log();
    auto again = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(count_with(hub->log(), "/cdn/"), 0u);
    EXPECT_EQ(blob_count(), 1u);  // two names, one file
}

TEST_F(Pull, default_quantization_explicit_file_and_unknown_tag) {
    start_hub();
    auto d = run_terraferma({"pull", "hf.co/acme/tiny-GGUF"});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(count_with(hub->log(), "/resolve/main/tiny-Q8_0.gguf"), 1u);  // no Q4_K_M or Q4_0 here: Q8_0 next
    auto f = run_terraferma({"pull", "acme/tiny-GGUF/tiny-F32.gguf"});
    ASSERT_EQ(f.exit_code, 0) << f.err;
    EXPECT_EQ(count_with(hub->log(), "/resolve/main/tiny-F32.gguf"), 1u);
    auto u = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:IQ2_XS"});
    EXPECT_EQ(u.exit_code, 1);
    EXPECT_NE(u.err.find("no file for quantization 'IQ2_XS'"), std::string::npos) << u.err;
    EXPECT_NE(u.err.find("Q8_0"), std::string::npos) << u.err;
    auto nf = run_terraferma({"pull", "hf.co/acme/nothing-here"});
    EXPECT_EQ(nf.exit_code, 1);
    EXPECT_NE(nf.err.find("no such repository"), std::string::npos) << nf.err;
}

TEST_F(Pull, a_split_model_arrives_whole_and_loads_as_one) {
    start_hub();
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:SPLIT"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(count_with(hub->log(), "/resolve/main/split/tiny-SPLIT-0000"), 3u);
    EXPECT_EQ(blob_count(), 3u);
    const std::string reference = logits((tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string());
    EXPECT_EQ(logits("hf.co/acme/tiny-GGUF:SPLIT"), reference);
    auto show = run_terraferma({"show", "hf.co/acme/tiny-GGUF:SPLIT", "--json"});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    EXPECT_EQ(nlohmann::json::parse(show.out)["files"].size(), 3u);
}

TEST_F(Pull, resumes_after_the_connection_drops_mid_file) {
    start_hub();
    hub->chunk_size = 16 * 1024;
    hub->drop_at = 200000;
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto log = hub->log();
    EXPECT_EQ(count_with(log, "/cdn/"), 2u);
    EXPECT_EQ(cdn_ranges(log), 1u);
    EXPECT_EQ(cdn_ranges(log, "Range: bytes=0-"), 0u);
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);
}

TEST_F(Pull, retries_429_and_500_then_succeeds) {
    start_hub();
    hub->fail_429 = 1;
    hub->fail_500 = 2;
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(count_with(hub->log(), "/cdn/"), 4u);
    // A server that never recovers: a clear error after the attempts, and the partial kept.
    hub->fail_500 = 1000;
    auto f = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:F32"});
    EXPECT_EQ(f.exit_code, 1);
    EXPECT_NE(f.err.find("HTTP 500"), std::string::npos) << f.err;
    EXPECT_NE(f.err.find("gave up after"), std::string::npos) << f.err;
}

TEST_F(Pull, a_416_on_a_stale_partial_restarts_from_zero) {
    start_hub();
    fs::create_directories(blobs());
    {
        std::ofstream p(blobs() / ("sha256-" + FakeHub::sha_of(q8) + ".partial"), std::ios::binary);
        p << q8.substr(0, 5000);
    }
    hub->fail_416 = 1;
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto log = hub->log();
    // A resume starts at a 4 KiB boundary (writes stay aligned for O_DIRECT).
    EXPECT_EQ(cdn_ranges(log, "Range: bytes=4096-"), 1u);
    EXPECT_EQ(count_with(log, "/cdn/"), 2u);  // 416, then the whole file
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);
}

TEST_F(Pull, a_corrupted_byte_fails_the_checksum_and_leaves_nothing) {
    start_hub();
    hub->corrupt = true;
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(blobs())) {
        ADD_FAILURE() << "left behind: " << e.path();
        ++files;
    }
    EXPECT_EQ(files, 0u);
    auto list = run_terraferma({"list", "--json"});
    EXPECT_TRUE(nlohmann::json::parse(list.out)["models"].empty());
}

TEST_F(Pull, a_gated_repository_needs_the_token) {
    start_hub();
    FakeRepo gated;
    gated.files.push_back({"gated-Q8_0.gguf", q8});
    gated.token = "hf_secret";
    hub->add_repo("acme/gated-GGUF", gated);
    auto no = run_terraferma({"pull", "hf.co/acme/gated-GGUF:Q8_0"});
    EXPECT_EQ(no.exit_code, 1);
    EXPECT_NE(no.err.find("gated"), std::string::npos) << no.err;
    EXPECT_NE(no.err.find("HF_TOKEN"), std::string::npos) << no.err;
    ::setenv("HF_TOKEN", "hf_wrong", 1);
    auto wrong = run_terraferma({"pull", "hf.co/acme/gated-GGUF:Q8_0"});
    EXPECT_EQ(wrong.exit_code, 1);
    EXPECT_EQ(wrong.err.find("hf_wrong"), std::string::npos) << "the token is never printed: " << wrong.err;
    ::setenv("HF_TOKEN", "hf_secret", 1);
    auto yes = run_terraferma({"pull", "hf.co/acme/gated-GGUF:Q8_0"});
    EXPECT_EQ(yes.exit_code, 0) << yes.err;
}

TEST_F(Pull, too_little_disk_space_refuses_before_downloading) {
    start_hub();
    FakeRepo huge;
    FakeFile f{"huge-Q8_0.gguf", q8};
    f.listed_size = uint64_t(1) << 50;  // 1 PiB
    huge.files.push_back(f);
    hub->add_repo("acme/huge-GGUF", huge);
    auto r = run_terraferma({"pull", "hf.co/acme/huge-GGUF:Q8_0"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("MiB free"), std::string::npos) << r.err;
    EXPECT_EQ(count_with(hub->log(), "/cdn/"), 0u);
}

TEST_F(Pull, resumes_after_kill_9) {
    start_hub();
    hub->chunk_size = 4096;
    hub->chunk_delay_ms = 4;
    std::vector<std::string> args = {TF_BINARY, "pull", "-q", "hf.co/acme/tiny-GGUF:Q8_0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    const fs::path partial = blobs() / ("sha256-" + FakeHub::sha_of(q8) + ".partial");
    uintmax_t seen = 0;
    for (int i = 0; i < 2000 && seen < 100000; ++i) {
        std::error_code ec;
        seen = fs::file_size(partial, ec);
        if (ec) seen = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_GE(fs::file_size(partial), 100000u);
    ASSERT_LT(fs::file_size(partial), q8.size());
    EXPECT_FALSE(fs::exists(blobs() / ("sha256-" + FakeHub::sha_of(q8))));
    hub->chunk_delay_ms = 0;
    hub->clear_log();
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto log = hub->log();
    ASSERT_EQ(count_with(log, "/cdn/"), 1u);
    EXPECT_EQ(cdn_ranges(log), 1u);
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);
    EXPECT_FALSE(fs::exists(partial));
}

TEST_F(Pull, from_an_ollama_registry_with_template_and_params) {
    start_hub();
    hub->add_ollama("library/tiny", "q8", {q8, "{{ .System }} {{ .Prompt }}", R"({"stop":["<|eot|>"]})"});
    const std::string name = "127.0.0.1:" + std::to_string(hub->port()) + "/library/tiny:q8";
    auto plain = run_terraferma({"pull", name});
    EXPECT_EQ(plain.exit_code, 1) << "an Ollama registry is HTTPS unless --insecure";
    auto r = run_terraferma({"pull", "--insecure", name});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto show = run_terraferma({"show", name, "--json"});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    auto j = nlohmann::json::parse(show.out);
    EXPECT_EQ(j["registry_template"], "{{ .System }} {{ .Prompt }}");
    EXPECT_EQ(j["registry_params"], R"({"stop":["<|eot|>"]})");
    EXPECT_EQ(j["architecture"], "llama");
    {
        // The GGUF has no chat template: conversations render with the registry's Go template,
        // the way Ollama renders it (no .Messages, no .Response: .Response is appended).
        const fs::path messages = dir / "messages.json";
        std::ofstream(messages) << R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])";
        auto rendered = run_terraferma({"template", "-m", name, "--messages", messages.string()});
        ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
        EXPECT_EQ(rendered.out, "Be brief. Hi");
        // The same file outside the store keeps the documented default (ChatML).
        auto plain_file =
            run_terraferma({"template", "-m", (tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string(),
                            "--messages", messages.string()});
        ASSERT_EQ(plain_file.exit_code, 0) << plain_file.err;
        EXPECT_EQ(plain_file.out.rfind("<|im_start|>system\nBe brief.<|im_end|>", 0), 0u) << plain_file.out;
    }
    {
        // The server's /api/show gives the registry's parameters as Ollama does (Modelfile lines).
        tf::test::ServerProcess server({"-c", "256", "--parallel", "1"});
        ASSERT_GT(server.port(), 0) << server.stderr_text();
        httplib::Client c("127.0.0.1", server.port());
        auto shown = c.Post("/api/show", nlohmann::json{{"model", name}}.dump(), "application/json");
        ASSERT_TRUE(shown);
        ASSERT_EQ(shown->status, 200) << shown->body;
        const auto sj = nlohmann::json::parse(shown->body);
        EXPECT_EQ(sj["parameters"], "stop \"<|eot|>\"") << shown->body;
        EXPECT_EQ(sj["template"], "{{ .System }} {{ .Prompt }}") << shown->body;
    }
    const std::string reference = logits((tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string());
    EXPECT_EQ(logits(name), reference);
    auto missing =
        run_terraferma({"pull", "--insecure", "127.0.0.1:" + std::to_string(hub->port()) + "/library/tiny:nope"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no such model or tag"), std::string::npos) << missing.err;
}

TEST_F(Pull, over_https_with_a_test_ca_and_never_without_verification) {
    const fs::path certs = dir / "certs";
    fs::create_directories(certs);
    const std::string c = certs.string();
    const std::string script =
        "cd " + c +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=tf test CA' "
        ">/dev/null 2>&1 && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=127.0.0.1' "
        ">/dev/null "
        "2>&1 && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext && openssl "
        "x509 -req "
        "-in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext >/dev/null 2>&1";
    ASSERT_EQ(std::system(script.c_str()), 0) << "openssl could not make the test certificates";
    hub = std::make_unique<FakeHub>(c + "/srv.pem", c + "/srv.key");
    hub->add_repo("acme/tiny-GGUF", tiny_repo());
    hub->add_ollama("library/tiny", "latest", {q8, "{{ .Prompt }}", "{}"});
    const int port = hub->start();
    ::setenv("HF_ENDPOINT", ("https://127.0.0.1:" + std::to_string(port)).c_str(), 1);
    auto untrusted = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    EXPECT_EQ(untrusted.exit_code, 1);
    EXPECT_NE(untrusted.err.find("certificate"), std::string::npos) << untrusted.err;
    ::setenv("SSL_CERT_FILE", (c + "/ca.pem").c_str(), 1);
    auto hf = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    EXPECT_EQ(hf.exit_code, 0) << hf.err;
    auto ollama = run_terraferma({"pull", "127.0.0.1:" + std::to_string(port) + "/library/tiny"});
    EXPECT_EQ(ollama.exit_code, 0) << ollama.err;

    // Through a company proxy: HTTPS goes by CONNECT, and the certificate is still the origin's,
    // verified end to end (the proxy only sees a tunnel).
    tf::test::FakeProxy proxy;
    fs::remove_all(dir / "store");
    ::setenv("https_proxy", ("http://127.0.0.1:" + std::to_string(proxy.port())).c_str(), 1);
    auto tunnelled = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ::unsetenv("https_proxy");
    ASSERT_EQ(tunnelled.exit_code, 0) << tunnelled.err;
    EXPECT_GE(count_with(proxy.log(), "CONNECT 127.0.0.1:" + std::to_string(port)), 1u);
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);
}

TEST_F(Pull, through_the_proxy_the_environment_names) {
    start_hub();
    const std::string origin = "http://127.0.0.1:" + std::to_string(hub->port());
    tf::test::FakeProxy proxy;
    ::setenv("http_proxy", ("http://127.0.0.1:" + std::to_string(proxy.port())).c_str(), 1);
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The listing, the resolve redirect and the CDN bytes all went through the proxy.
    const auto log = proxy.log();
    EXPECT_GE(count_with(log, "GET " + origin + "/api/models/acme/tiny-GGUF/tree/main"), 1u);
    EXPECT_EQ(count_with(log, "GET " + origin + "/acme/tiny-GGUF/resolve/main/tiny-Q8_0.gguf"), 1u);
    EXPECT_GE(count_with(log, "GET " + origin + "/cdn/"), 1u);
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);

    // no_proxy exempts a host, as curl's own tool reads it.
    fs::remove_all(dir / "store");
    ::setenv("no_proxy", "127.0.0.1", 1);
    auto direct = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ::unsetenv("no_proxy");
    ::unsetenv("http_proxy");
    ASSERT_EQ(direct.exit_code, 0) << direct.err;
    EXPECT_EQ(proxy.log().size(), log.size());

    // A proxy that is down is a clear failure, not a silent direct connection.
    ::setenv("http_proxy", "http://127.0.0.1:1", 1);
    fs::remove_all(dir / "store");
    auto down = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ::unsetenv("http_proxy");
    EXPECT_EQ(down.exit_code, 1);
    EXPECT_FALSE(down.err.empty());
}

TEST_F(Pull, offline_and_bad_names_fetch_nothing) {
    start_hub();
    ::setenv("TERRAFERMA_OFFLINE", "1", 1);
    auto off = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    EXPECT_EQ(off.exit_code, 1);
    EXPECT_NE(off.err.find("offline"), std::string::npos) << off.err;
    ::unsetenv("TERRAFERMA_OFFLINE");
    auto flag = run_terraferma({"pull", "--offline", "hf.co/acme/tiny-GGUF:Q8_0"});
    EXPECT_EQ(flag.exit_code, 1);
    for (const char* bad : {"../../etc/passwd", "/etc/passwd", "hf.co/../../x"}) {
        auto r = run_terraferma({"pull", bad});
        EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    }
    EXPECT_TRUE(hub->log().empty());
}

TEST_F(Pull, import_list_copy_remove_and_export_share_one_blob) {
    const std::string src = (tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string();
    auto imp = run_terraferma({"import", src, "--name", "acme/extractor:v1"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    ASSERT_EQ(run_terraferma({"cp", "acme/extractor:v1", "extractor"}).exit_code, 0);
    EXPECT_EQ(blob_count(), 1u);
    auto list = run_terraferma({"list"});
    EXPECT_NE(list.out.find("acme/extractor:v1"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("extractor:latest"), std::string::npos) << list.out;
    auto rm1 = run_terraferma({"rm", "acme/extractor:v1"});
    ASSERT_EQ(rm1.exit_code, 0) << rm1.err;
    EXPECT_EQ(blob_count(), 1u);  // still used by the other name
    auto exp = run_terraferma({"export", "extractor", (dir / "usb").string()});
    ASSERT_EQ(exp.exit_code, 0) << exp.err;
    EXPECT_EQ(slurp(dir / "usb" / "tiny-llama-Q8_0.gguf"), q8);
    auto rm2 = run_terraferma({"models", "rm", "extractor"});
    ASSERT_EQ(rm2.exit_code, 0) << rm2.err;
    EXPECT_EQ(blob_count(), 0u);
    auto gone = run_terraferma({"logits", "-m", "extractor", "--ids", "1"});
    EXPECT_EQ(gone.exit_code, 1);
    EXPECT_NE(gone.err.find("no such model"), std::string::npos) << gone.err;
    // A split model imports with all its parts.
    auto split = run_terraferma({"import", (dir / "tiny-SPLIT-00001-of-00003.gguf").string()});
    ASSERT_EQ(split.exit_code, 0) << split.err;
    EXPECT_EQ(blob_count(), 3u);
    EXPECT_EQ(logits("tiny-SPLIT"), logits(src));
}

TEST_F(Pull, serve_offers_the_store_and_pulls_only_when_allowed) {
    start_hub();
    const std::string src = (tf::test::reference_dir() / "models/tiny-llama-Q8_0.gguf").string();
    ASSERT_EQ(run_terraferma({"import", src, "--name", "acme/extractor:v1"}).exit_code, 0);
    {
        tf::test::ServerProcess closed({"-c", "256", "--parallel", "1"});
        ASSERT_GT(closed.port(), 0) << closed.stderr_text();
        httplib::Client c("127.0.0.1", closed.port());
        auto pull = c.Post("/api/pull", R"({"model":"hf.co/acme/tiny-GGUF:Q8_0"})", "application/json");
        ASSERT_TRUE(pull);
        EXPECT_EQ(pull->status, 403) << pull->body;
        EXPECT_NE(pull->body.find("--allow-pull"), std::string::npos) << pull->body;
    }
    EXPECT_TRUE(hub->log().empty());

    tf::test::ServerProcess server({"-c", "256", "--parallel", "1", "--allow-pull"});
    ASSERT_GT(server.port(), 0) << server.stderr_text();
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(60);
    auto tags = c.Get("/api/tags");
    ASSERT_TRUE(tags);
    auto tj = nlohmann::json::parse(tags->body);
    ASSERT_EQ(tj["models"].size(), 1u) << tags->body;
    EXPECT_EQ(tj["models"][0]["name"], "acme/extractor:v1");
    EXPECT_EQ(tj["models"][0]["digest"], FakeHub::sha_of(q8));

    auto gen = c.Post(
        "/api/generate",
        R"({"model":"acme/extractor:v1","prompt":"hello","stream":false,"options":{"num_predict":3,"temperature":0}})",
        "application/json");
    ASSERT_TRUE(gen);
    EXPECT_EQ(gen->status, 200) << gen->body;
    auto unknown =
        c.Post("/api/generate", R"({"model":"nothing:here","prompt":"x","stream":false})", "application/json");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404) << unknown->body;

    // Streamed progress as Ollama sends it, ending in success.
    auto pull = c.Post("/api/pull", R"({"model":"hf.co/acme/tiny-GGUF:Q8_0"})", "application/json");
    ASSERT_TRUE(pull);
    ASSERT_EQ(pull->status, 200) << pull->body;
    std::vector<nlohmann::json> lines;
    std::istringstream in(pull->body);
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    ASSERT_GE(lines.size(), 3u) << pull->body;
    EXPECT_EQ(lines.front()["status"], "pulling manifest");
    EXPECT_EQ(lines.back()["status"], "success");
    bool saw_bytes = false;
    for (const auto& l : lines) saw_bytes = saw_bytes || (l.contains("digest") && l["completed"] == l["total"]);
    EXPECT_TRUE(saw_bytes) << pull->body;
    auto models = c.Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_NE(models->body.find("hf.co/acme/tiny-GGUF:Q8_0"), std::string::npos) << models->body;
    auto chat = c.Post("/v1/completions", R"({"model":"hf.co/acme/tiny-GGUF:Q8_0","prompt":"hi","max_tokens":2})",
                       "application/json");
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->status, 200) << chat->body;
    auto nonstream = c.Post("/api/pull", R"({"model":"hf.co/acme/tiny-GGUF:nope","stream":false})", "application/json");
    ASSERT_TRUE(nonstream);
    EXPECT_EQ(nonstream->status, 502) << nonstream->body;

    auto copy =
        c.Post("/api/copy", R"({"source":"acme/extractor:v1","destination":"extractor:prod"})", "application/json");
    ASSERT_TRUE(copy);
    EXPECT_EQ(copy->status, 200) << copy->body;
    auto evil = c.Delete("/api/delete", R"({"model":"../../etc/passwd"})", "application/json");
    ASSERT_TRUE(evil);
    EXPECT_EQ(evil->status, 400) << evil->body;
    auto evil_copy =
        c.Post("/api/copy", R"({"source":"acme/extractor:v1","destination":"/tmp/x"})", "application/json");
    ASSERT_TRUE(evil_copy);
    EXPECT_EQ(evil_copy->status, 400) << evil_copy->body;
    auto missing = c.Delete("/api/delete", R"({"model":"not-there"})", "application/json");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404) << missing->body;
    auto del = c.Delete("/api/delete", R"({"model":"acme/extractor:v1"})", "application/json");
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 200) << del->body;
    auto after = nlohmann::json::parse(c.Get("/api/tags")->body);
    std::vector<std::string> names;
    for (const auto& m : after["models"]) names.push_back(m["name"]);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"extractor:prod", "hf.co/acme/tiny-GGUF:Q8_0"}));
}

// Bytes the file server was asked for by explicit ranges ("Range: bytes=A-B").
uint64_t ranged_bytes(const std::vector<std::string>& log, size_t* requests = nullptr) {
    uint64_t total = 0;
    size_t n = 0;
    for (const auto& l : log) {
        const size_t at = l.find("/cdn/");
        const size_t r = l.find("Range: bytes=");
        if (at == std::string::npos || r == std::string::npos) continue;
        unsigned long long a = 0, b = 0;
        if (std::sscanf(l.c_str() + r + 13, "%llu-%llu", &a, &b) == 2) {
            total += b - a + 1;
            ++n;
        }
    }
    if (requests) *requests = n;
    return total;
}

TEST_F(Pull, several_connections_fetch_ranges_survive_a_drop_and_resume_after_kill_9) {
    start_hub();
    ::setenv("TERRAFERMA_PULL_CONNECTIONS", "4", 1);
    ::setenv("TERRAFERMA_PULL_SEGMENT_MIN", "1", 1);
    hub->chunk_size = 16 * 1024;
    hub->drop_at = 300000;
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    size_t requests = 0;
    const uint64_t asked = ranged_bytes(hub->log(), &requests);
    EXPECT_GE(requests, 5u);  // four ranges, one of them again after the drop
    EXPECT_GT(asked, q8.size());
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);
    EXPECT_FALSE(fs::exists(blobs() / ("sha256-" + FakeHub::sha_of(q8) + ".partial.segments")));

    // Killed half-way, the next pull asks only for what is missing.
    ASSERT_EQ(run_terraferma({"rm", "hf.co/acme/tiny-GGUF:Q8_0"}).exit_code, 0);
    hub->clear_log();
    hub->chunk_size = 4096;
    hub->chunk_delay_ms = 25;  // about 0.7 s per range
    std::vector<std::string> args = {TF_BINARY, "pull", "-q", "hf.co/acme/tiny-GGUF:Q8_0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    const fs::path segments = blobs() / ("sha256-" + FakeHub::sha_of(q8) + ".partial.segments");
    for (int i = 0; i < 2000 && !fs::exists(segments); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ASSERT_TRUE(fs::exists(blobs() / ("sha256-" + FakeHub::sha_of(q8) + ".partial.segments")));
    hub->chunk_delay_ms = 0;
    hub->clear_log();
    auto again = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_LT(ranged_bytes(hub->log()), q8.size());
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(q8))), q8);

    // A corrupted byte is caught over ranges too, and nothing stays.
    ASSERT_EQ(run_terraferma({"rm", "hf.co/acme/tiny-GGUF:Q8_0"}).exit_code, 0);
    hub->corrupt = true;
    auto bad = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("checksum mismatch"), std::string::npos) << bad.err;
    EXPECT_TRUE(fs::is_empty(blobs()));
}

}  // namespace

TEST_F(Pull, create_from_a_stored_model_and_from_uploaded_blobs) {
    const fs::path models = tf::test::reference_dir() / "models";
    ASSERT_EQ(run_terraferma({"import", (models / "tiny-llama-Q8_0.gguf").string(), "--name", "tiny"}).exit_code, 0);
    const std::string q8_digest = "sha256:" + FakeHub::sha_of(q8), f32_digest = "sha256:" + FakeHub::sha_of(f32);
    auto uploads_left = [&] {
        size_t n = 0;
        for (const auto& e : fs::directory_iterator(blobs()))
            n += e.path().filename().string().rfind("upload-", 0) == 0;
        return n;
    };
    {
        tf::test::ServerProcess server({"-c", "256", "--parallel", "1"});
        ASSERT_GT(server.port(), 0) << server.stderr_text();
        httplib::Client c("127.0.0.1", server.port());
        // HEAD: whether the store has a blob.
        EXPECT_EQ(c.Head(("/api/blobs/" + q8_digest).c_str())->status, 200);
        EXPECT_EQ(c.Head(("/api/blobs/sha256:" + std::string(64, '0')).c_str())->status, 404);
        EXPECT_EQ(c.Head("/api/blobs/sha256:xyz")->status, 400);

        // An upload whose bytes do not hash to the path's digest is refused and leaves nothing.
        auto wrong = c.Post(("/api/blobs/" + q8_digest + "0").c_str(), f32, "application/octet-stream");
        ASSERT_TRUE(wrong);
        EXPECT_EQ(wrong->status, 400);
        auto mismatch = c.Post(("/api/blobs/sha256:" + std::string(64, 'a')).c_str(), f32, "application/octet-stream");
        ASSERT_TRUE(mismatch);
        EXPECT_EQ(mismatch->status, 400);
        EXPECT_NE(mismatch->body.find("digest mismatch"), std::string::npos) << mismatch->body;
        EXPECT_EQ(uploads_left(), 0u);
        EXPECT_FALSE(fs::exists(blobs() / ("sha256-" + std::string(64, 'a'))));
        // The real one lands as a blob.
        auto up = c.Post(("/api/blobs/" + f32_digest).c_str(), f32, "application/octet-stream");
        ASSERT_TRUE(up);
        EXPECT_EQ(up->status, 201) << up->body;
        EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(f32))), f32);
        EXPECT_EQ(uploads_left(), 0u);
        // Uploads go to disk, not memory: 24 MiB is three times the server's request body limit.
        std::string big(size_t(24) << 20, '\0');
        for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
        auto large = c.Post(("/api/blobs/sha256:" + FakeHub::sha_of(big)).c_str(), big, "application/octet-stream");
        ASSERT_TRUE(large);
        EXPECT_EQ(large->status, 201) << large->body;
        EXPECT_EQ(fs::file_size(blobs() / ("sha256-" + FakeHub::sha_of(big))), big.size());

        // A model from the uploaded file.
        auto made = c.Post(
            "/api/create",
            nlohmann::json{{"model", "mine:f32"}, {"files", {{"tiny.gguf", f32_digest}}}, {"stream", false}}.dump(),
            "application/json");
        ASSERT_TRUE(made);
        ASSERT_EQ(made->status, 200) << made->body;
        EXPECT_EQ(nlohmann::json::parse(made->body)["status"], "success");

        // A model from a stored one, with a template, a system prompt and parameters: streamed
        // statuses as Ollama sends them, and no bytes copied (the same blob).
        auto derived = c.Post("/api/create",
                              nlohmann::json{{"model", "tiny-chat"},
                                             {"from", "tiny"},
                                             {"template", "[INST] {{ .Prompt }} [/INST]"},
                                             {"system", "Be brief."},
                                             {"parameters", {{"stop", {"[INST]"}}}}}
                                  .dump(),
                              "application/json");
        ASSERT_TRUE(derived);
        ASSERT_EQ(derived->status, 200) << derived->body;
        EXPECT_EQ(derived->body, "{\"status\":\"using existing layer " + q8_digest +
                                     "\"}\n{\"status\":\"writing manifest\"}\n{\"status\":\"success\"}\n");
        auto shown = c.Post("/api/show", nlohmann::json{{"model", "tiny-chat"}}.dump(), "application/json");
        ASSERT_TRUE(shown);
        ASSERT_EQ(shown->status, 200) << shown->body;
        const auto sj = nlohmann::json::parse(shown->body);
        EXPECT_EQ(sj["template"], "[INST] {{ .Prompt }} [/INST]");
        EXPECT_EQ(sj["parameters"], "stop \"[INST]\"");

        // The system and parameters layers are the model's defaults: a conversation without a
        // system message gets the system prompt (as many prompt tokens as when it is given), and
        // num_predict holds unless the request sets it.
        // (Each count comes from a model of its own: a model's prefix cache would count again only
        // the tokens it had not seen.)
        for (const char* m : {"with-sys", "no-sys-1", "no-sys-2"}) {
            nlohmann::json create{
                {"model", m}, {"from", "tiny"}, {"template", "{{ .System }}|{{ .Prompt }}"}, {"stream", false}};
            if (std::string(m) == "with-sys") {
                create["system"] = "Be brief, and exact.";
                create["parameters"] = {{"num_predict", 2}, {"temperature", 0}};
            }
            auto r = c.Post("/api/create", create.dump(), "application/json");
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 200) << r->body;
        }
        auto chat = [&](const char* model, const nlohmann::json& messages, const nlohmann::json& options) {
            nlohmann::json body{{"model", model}, {"messages", messages}, {"stream", false}};
            if (!options.is_null()) body["options"] = options;
            auto r = c.Post("/api/chat", body.dump(), "application/json");
            EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
            return r ? nlohmann::json::parse(r->body) : nlohmann::json();
        };
        const nlohmann::json hi = {{{"role", "user"}, {"content", "Hi"}}};
        const nlohmann::json given = {{{"role", "system"}, {"content", "Be brief, and exact."}},
                                      {{"role", "user"}, {"content", "Hi"}}};
        const auto by_default = chat("with-sys", hi, nullptr);
        const auto explicit_system = chat("no-sys-1", given, {{"num_predict", 2}});
        const auto none = chat("no-sys-2", hi, {{"num_predict", 2}});
        EXPECT_EQ(by_default["prompt_eval_count"], explicit_system["prompt_eval_count"]);
        EXPECT_GT(by_default["prompt_eval_count"].get<int>(), none["prompt_eval_count"].get<int>());
        EXPECT_EQ(by_default["eval_count"], 2);
        EXPECT_EQ(chat("with-sys", hi, {{"num_predict", 4}})["eval_count"], 4);
        auto shown_sys = c.Post("/api/show", nlohmann::json{{"model", "with-sys"}}.dump(), "application/json");
        ASSERT_TRUE(shown_sys);
        EXPECT_EQ(nlohmann::json::parse(shown_sys->body)["system"], "Be brief, and exact.");

        // What is refused, and how.
        auto status_of = [&](const nlohmann::json& body) {
            auto r = c.Post("/api/create", body.dump(), "application/json");
            return r ? r->status : -1;
        };
        EXPECT_EQ(status_of({{"model", "x"}, {"from", "no-such-model"}}), 404);
        EXPECT_EQ(status_of({{"model", "../../etc/passwd"}, {"from", "tiny"}}), 400);
        EXPECT_EQ(status_of({{"model", "x"}}), 400);
        EXPECT_EQ(status_of({{"model", "x"}, {"files", {{"a.gguf", "sha256:" + std::string(64, 'b')}}}}), 404);
        EXPECT_EQ(status_of({{"model", "x"}, {"files", {{"a.safetensors", f32_digest}}}}), 400);
        EXPECT_EQ(status_of({{"model", "x"}, {"from", "tiny"}, {"quantize", "q4_K_M"}}), 400);
        auto bad_template =
            c.Post("/api/create",
                   nlohmann::json{{"model", "x"}, {"from", "tiny"}, {"template", "{{ .Prompt }}\n{{ if .X }}"}}.dump(),
                   "application/json");
        ASSERT_TRUE(bad_template);
        EXPECT_EQ(bad_template->status, 400);
        EXPECT_NE(bad_template->body.find("line 2"), std::string::npos) << bad_template->body;
    }
    // Every command takes the new names: the uploaded F32 model computes the reference logits,
    // and the derived model renders with its own template.
    EXPECT_EQ(logits("mine:f32"), logits((tf::test::reference_dir() / "models/tiny-llama.gguf").string()));
    const fs::path messages = dir / "messages.json";
    std::ofstream(messages) << R"([{"role": "user", "content": "Hi"}])";
    auto rendered = run_terraferma({"template", "-m", "tiny-chat", "--messages", messages.string()});
    ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
    EXPECT_EQ(rendered.out, "[INST] Hi [/INST]");
    // "tiny" shares the blob and has no template of its own: the documented default (ChatML).
    auto base = run_terraferma({"template", "-m", "tiny", "--messages", messages.string()});
    ASSERT_EQ(base.exit_code, 0) << base.err;
    EXPECT_EQ(base.out, "<|im_start|>user\nHi<|im_end|>\n");
}

TEST_F(Pull, one_connection_first_and_several_once_it_proves_slow) {
    // By default a large file streams over one connection (hashed and written as it arrives);
    // when that connection runs slow for its first 2 s — as a CDN capping each connection
    // does — ranges over several connections fetch the rest, and the file still checks out.
    start_hub();
    ::setenv("TERRAFERMA_PULL_SEGMENT_MIN", "1", 1);
    hub->chunk_size = 16 * 1024;
    hub->chunk_delay_ms = 30;  // ~0.5 MB/s per connection: the F32 file alone would take ~3.2 s
    auto r = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:F32"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    size_t ranges = 0;
    ranged_bytes(hub->log(), &ranges);
    EXPECT_EQ(ranges, 4u) << "the rest was not split over several connections";
    EXPECT_EQ(count_with(hub->log(), "/cdn/"), 1 + ranges);  // the first stream, then the ranges
    EXPECT_EQ(slurp(blobs() / ("sha256-" + FakeHub::sha_of(f32))), f32);

    // A fast connection is never split.
    ASSERT_EQ(run_terraferma({"rm", "hf.co/acme/tiny-GGUF:F32"}).exit_code, 0);
    hub->clear_log();
    hub->chunk_delay_ms = 0;
    auto fast = run_terraferma({"pull", "hf.co/acme/tiny-GGUF:Q8_0"});
    ASSERT_EQ(fast.exit_code, 0) << fast.err;
    EXPECT_EQ(count_with(hub->log(), "/cdn/"), 1u);
    EXPECT_EQ(cdn_ranges(hub->log()), 0u);
}
