// The official OpenAI and Ollama JavaScript clients (installed into tests/clients by
// scripts/setup.sh) pointed at the real server: existing code switches by changing one URL.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/reference.h"
#include "support/server.h"

namespace {

std::filesystem::path clients_dir() { return std::filesystem::path(TF_SOURCE_DIR) / "tests" / "clients"; }

// Runs `node script port [extra]`, returning its exit code and output.
int run_node(const std::string& script, int port, std::string& output, const std::string& extra = "") {
    const std::string cmd =
        "cd '" + clients_dir().string() + "' && node " + script + " " + std::to_string(port) + (extra.empty() ? "" : " '" + extra + "'") + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return -1;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    const int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void require_clients() {
    if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed (scripts/setup.sh installs it)";
    if (!std::filesystem::exists(clients_dir() / "node_modules" / "openai") || !std::filesystem::exists(clients_dir() / "node_modules" / "ollama")) {
        GTEST_SKIP() << "the client packages are not installed: run scripts/setup.sh (npm install in tests/clients)";
    }
}

TEST(ClientsE2E, official_openai_sdk) {
    TF_REQUIRE_REFERENCE();
    require_clients();
    if (HasFatalFailure() || IsSkipped()) return;
    tf::test::ServerProcess srv({"-m", (tf::test::reference_dir() / "models/vocab-llama3-llama-Q8_0.gguf").string(), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    std::string out;
    EXPECT_EQ(run_node("openai_client.mjs", srv.port(), out), 0) << out << srv.stderr_text();
    std::printf("%s", out.c_str());
}

TEST(ClientsE2E, official_ollama_client) {
    TF_REQUIRE_REFERENCE();
    require_clients();
    if (HasFatalFailure() || IsSkipped()) return;
    tf::test::ServerProcess srv({"-m", (tf::test::reference_dir() / "models/vocab-qwen2-qwen2-Q8_0.gguf").string(), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    std::string out;
    EXPECT_EQ(run_node("ollama_client.mjs", srv.port(), out), 0) << out << srv.stderr_text();
    std::printf("%s", out.c_str());
}

// Embedding and reranking models served next to a chat model: the SDK's embeddings.create, the
// rerank request's documented shape, and 400s for what a model cannot do.
TEST(ClientsE2E, encoders_next_to_a_chat_model) {
    TF_REQUIRE_REFERENCE();
    require_clients();
    if (HasFatalFailure() || IsSkipped()) return;
    const auto models = tf::test::reference_dir() / "models";
    tf::test::ServerProcess srv({"-m", "chat=" + (models / "tiny-qwen3.gguf").string(), "-m", "bge=" + (models / "tiny-bert.gguf").string(),
                                 "-m", "rerank=" + (models / "tiny-bert-rerank.gguf").string(), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    std::string out;
    EXPECT_EQ(run_node("openai_encoders.mjs", srv.port(), out, (tf::test::reference_dir() / "outputs").string()), 0) << out << srv.stderr_text();
    std::printf("%s", out.c_str());
}

}  // namespace
