// The real server on 127.0.0.1, driven over HTTP: OpenAI and Ollama shapes, streaming,
// structured output, determinism under concurrency, prefix reuse, auth, limits, shutdown.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <set>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gguf/writer.h"
#include "support/reference.h"
#include "support/run.h"
#include "support/server.h"

namespace {

using json = nlohmann::json;

std::string model_path(const std::string& name) { return (tf::test::reference_dir() / "models" / (name + ".gguf")).string(); }

json chat_body(const std::string& user, int max_tokens, double temperature, int seed) {
    return {{"model", "any"}, {"messages", json::array({{{"role", "user"}, {"content", user}}})}, {"max_tokens", max_tokens},
            {"temperature", temperature}, {"seed", seed}};
}

std::string chat_text(httplib::Client& c, const json& body) {
    c.set_read_timeout(120, 0);  // a loaded CI machine may keep a queued request waiting for a while
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    if (!r || r->status != 200) return "<error " + (r ? std::to_string(r->status) + " " + r->body : std::string("no response")) + ">";
    return json::parse(r->body)["choices"][0]["message"]["content"].get<std::string>();
}

TEST(ServerE2E, openai_and_ollama_endpoints) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("vocab-qwen2-qwen2-Q8_0"), "--parallel", "2", "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    auto models = c.Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "vocab-qwen2-qwen2-Q8_0");

    // Non-streamed and streamed answers carry the same text.
    json body = chat_body("Hello", 12, 0.0, 1);
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    const std::string text = j["choices"][0]["message"]["content"];
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(j["usage"]["completion_tokens"], 12);
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    auto s = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->get_header_value("Content-Type"), "text/event-stream");
    std::string streamed, finish;
    bool usage = false, done = false;
    std::istringstream lines(s->body);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("data: ", 0) != 0) continue;
        if (line == "data: [DONE]") {
            done = true;
            continue;
        }
        const json chunk = json::parse(line.substr(6));
        if (chunk.contains("usage") && !chunk["usage"].is_null()) usage = chunk["usage"]["completion_tokens"] == 12;
        if (chunk["choices"].empty()) continue;
        const json& delta = chunk["choices"][0]["delta"];
        if (delta.contains("content")) streamed += delta["content"].get<std::string>();
        if (!chunk["choices"][0]["finish_reason"].is_null()) finish = chunk["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(streamed, text);
    EXPECT_EQ(finish, "length");
    EXPECT_TRUE(usage);
    EXPECT_TRUE(done);

    // Ollama: NDJSON by default, one object with stream false; same greedy text.
    json ob = {{"model", "any"}, {"messages", json::array({{{"role", "user"}, {"content", "Hello"}}})},
               {"options", {{"temperature", 0}, {"num_predict", 12}, {"repeat_penalty", 1.0}}}};
    auto o = c.Post("/api/chat", ob.dump(), "application/json");
    ASSERT_TRUE(o);
    std::string ollama_text;
    json last;
    std::istringstream ol(o->body);
    for (std::string line; std::getline(ol, line);) {
        if (line.empty()) continue;
        last = json::parse(line);
        ollama_text += last["message"]["content"].get<std::string>();
    }
    EXPECT_EQ(ollama_text, text);
    EXPECT_EQ(last["done"], true);
    EXPECT_EQ(last["done_reason"], "length");
    EXPECT_EQ(last["eval_count"], 12);
    ob["stream"] = false;
    auto o2 = c.Post("/api/chat", ob.dump(), "application/json");
    ASSERT_TRUE(o2);
    EXPECT_EQ(json::parse(o2->body)["message"]["content"], text);
    for (const char* path : {"/api/tags", "/api/ps", "/api/version"}) {
        auto g = c.Get(path);
        ASSERT_TRUE(g);
        EXPECT_EQ(g->status, 200) << path;
    }

    // Errors in the APIs' shapes.
    auto bad = c.Post("/v1/chat/completions", "{bad", "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_TRUE(json::parse(bad->body)["error"].contains("message"));
    auto wrong = c.Post("/v1/chat/completions", chat_body("x", 4, 5.0, 1).dump(), "application/json");
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 400);
    EXPECT_EQ(json::parse(wrong->body)["error"]["param"], "temperature");
    auto nowhere = c.Get("/v1/nothing");
    ASSERT_TRUE(nowhere);
    EXPECT_EQ(nowhere->status, 404);

    // The prefix cache saw the repeated prompt.
    auto metrics = c.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("terraferma_prefix_cache_tokens_total"), std::string::npos);
    EXPECT_EQ(srv.stop(SIGTERM), 0) << srv.stderr_text();
}

// The same request gives the same text alone or while other requests run beside it.
TEST(ServerE2E, outputs_do_not_depend_on_concurrent_requests) {
    TF_REQUIRE_REFERENCE();
    // Eight slots: the probe runs alone, then among seven others that start with it.
    tf::test::ServerProcess srv({"-m", model_path("vocab-llama3-llama-Q8_0"), "--parallel", "8", "-t", "2", "-c", "512"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    const json probe = chat_body("Tell me a story about a lighthouse.", 24, 1.0, 42);
    std::string alone;
    {
        httplib::Client c("127.0.0.1", srv.port());
        alone = chat_text(c, probe);
    }
    ASSERT_EQ(alone.find("<error"), std::string::npos) << alone;
    std::vector<std::future<std::string>> others;
    for (int i = 0; i < 7; ++i) {
        others.push_back(std::async(std::launch::async, [&, i] {
            httplib::Client c("127.0.0.1", srv.port());
            return chat_text(c, chat_body("Another prompt number " + std::to_string(i) + " that is longer than the first one", 30, 0.7, i));
        }));
    }
    std::string together;
    {
        httplib::Client c("127.0.0.1", srv.port());
        together = chat_text(c, probe);
    }
    for (auto& f : others) {
        const std::string got = f.get();
        EXPECT_EQ(got.find("<error"), std::string::npos) << got;
    }
    EXPECT_EQ(together, alone);
}

TEST(ServerE2E, json_schema_response_format) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("vocab-llama3-llama-Q8_0"), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    json body = chat_body("Extract the invoice.", 120, 1.0, 3);
    body["response_format"] = {{"type", "json_schema"},
                               {"json_schema", {{"name", "inv"}, {"strict", true}, {"schema", {{"type", "object"},
                                 {"properties", {{"number", {{"type", "integer"}, {"minimum", 1}, {"maximum", 999}}}, {"paid", {{"type", "boolean"}}}}},
                                 {"required", {"number", "paid"}}, {"additionalProperties", false}}}}}};
    int ended = 0;
    for (int seed = 1; seed <= 6; ++seed) {
        body["seed"] = seed;
        auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        const json j = json::parse(r->body);
        if (j["choices"][0]["finish_reason"] != "stop") continue;
        ++ended;
        const json doc = json::parse(j["choices"][0]["message"]["content"].get<std::string>());
        EXPECT_TRUE(doc["number"].is_number_integer());
        EXPECT_GE(doc["number"].get<int>(), 1);
        EXPECT_LE(doc["number"].get<int>(), 999);
        EXPECT_TRUE(doc["paid"].is_boolean());
    }
    EXPECT_GT(ended, 0);
}

TEST(ServerE2E, api_key_body_limit_and_shutdown) {
    TF_REQUIRE_REFERENCE();
    // The server may refuse a body and close while this client is still writing it.
    ::signal(SIGPIPE, SIG_IGN);
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1", "--api-key", "s3cret", "--max-body-mb", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    auto open = c.Get("/health");
    ASSERT_TRUE(open);
    EXPECT_EQ(open->status, 200);
    auto denied = c.Get("/v1/models");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 401);
    httplib::Headers auth = {{"Authorization", "Bearer s3cret"}};
    auto ok = c.Get("/v1/models", auth);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    const std::string huge(2u << 20, 'x');
    auto big = c.Post("/v1/chat/completions", auth, huge, "application/json");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 413);
    // The same limit for a chunked body (no Content-Length): refused as it arrives.
    size_t sent = 0;
    auto chunked = c.Post(
        "/v1/chat/completions", auth,
        [&](size_t, httplib::DataSink& sink) {
            const std::string piece(64 << 10, ' ');
            if (sent >= (3u << 20)) {
                sink.done();
                return true;
            }
            sent += piece.size();
            return sink.write(piece.data(), piece.size());
        },
        "application/json");
    if (chunked) {
        EXPECT_EQ(chunked->status, 413) << chunked->body;
    } else {  // the connection closed under the writing client: refused all the same
        EXPECT_TRUE(chunked.error() == httplib::Error::Write || chunked.error() == httplib::Error::Canceled) << httplib::to_string(chunked.error());
    }
    auto still = c.Get("/health");
    ASSERT_TRUE(still);
    EXPECT_EQ(still->status, 200);
    // A long generation in flight when SIGTERM arrives: the server still exits cleanly.
    auto pending = std::async(std::launch::async, [&] {
        httplib::Client c2("127.0.0.1", srv.port());
        json b = chat_body("x", 100000, 1.0, 1);
        return c2.Post("/v1/chat/completions", auth, b.dump(), "application/json");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(srv.stop(SIGTERM), 0) << srv.stderr_text();
    pending.wait();
}

}  // namespace

namespace {

// tool_choice "auto": the model may answer in words, but a call it starts is forced to be well
// formed. A bias on Qwen's <tool_call> token (id 151657) makes this random model start one; the
// grammar then carries it to a valid call of a declared tool (without it: garbage after the tag).
TEST(ServerE2E, auto_tool_choice_forces_the_calls_a_model_starts) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("vocab-qwen2-qwen2-Q8_0"), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(120, 0);
    json body = chat_body("What is 2 plus 3?", 120, 1.0, 1);
    body["tools"] = json::parse(R"([
      {"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}])");
    body["tool_choice"] = "auto";
    body["parallel_tool_calls"] = false;
    body["logit_bias"] = {{"151657", 100}};
    int calls = 0;
    for (int seed = 1; seed <= 3; ++seed) {
        body["seed"] = seed;
        auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        const json j = json::parse(r->body);
        ASSERT_EQ(j["choices"][0]["finish_reason"], "tool_calls") << r->body;
        for (const auto& tc : j["choices"][0]["message"]["tool_calls"]) {
            ++calls;
            EXPECT_EQ(tc["function"]["name"], "add");
            const json args = json::parse(tc["function"]["arguments"].get<std::string>());
            EXPECT_TRUE(args["a"].is_number_integer() && args["b"].is_number_integer()) << args;
        }
    }
    EXPECT_EQ(calls, 3);
    // Without tools in play the same bias is just text: no grammar, no calls.
    body.erase("tools");
    body.erase("tool_choice");
    body.erase("parallel_tool_calls");
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(json::parse(r->body)["choices"][0]["finish_reason"], "tool_calls");
}

// Two tools (one with an enum and a length bound, one with integers) and tool_choice "required".
json forced_tools_body() {
    json body = chat_body("What is the weather in Paris?", 200, 1.0, 1);
    body["tools"] = json::parse(R"([
      {"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":20},"unit":{"enum":["c","f"]}},"required":["city"]}}},
      {"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}])");
    body["tool_choice"] = "required";
    return body;
}

// Sends `body` with seeds 1-4; every tool call returned must have arguments valid for its tool.
// Returns how many calls came back.
int valid_forced_tool_calls(httplib::Client& c, json body) {
    int calls = 0;
    for (int seed = 1; seed <= 4; ++seed) {
        body["seed"] = seed;
        auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
        EXPECT_TRUE(r);
        if (!r) return calls;
        EXPECT_EQ(r->status, 200) << r->body;
        const json j = json::parse(r->body);
        if (j["choices"][0]["finish_reason"] != "tool_calls") continue;
        for (const auto& tc : j["choices"][0]["message"]["tool_calls"]) {
            ++calls;
            const std::string name = tc["function"]["name"];
            const json args = json::parse(tc["function"]["arguments"].get<std::string>());
            if (name == "get_weather") {
                EXPECT_TRUE(args["city"].is_string()) << args;
                if (args.contains("unit")) {
                    EXPECT_TRUE(args["unit"] == "c" || args["unit"] == "f") << args;
                }
            } else {
                EXPECT_EQ(name, "add");
                EXPECT_TRUE(args["a"].is_number_integer() && args["b"].is_number_integer()) << args;
            }
            EXPECT_EQ(tc["type"], "function");
        }
    }
    return calls;
}

// tool_choice "required": the answer is a call of one of the tools with valid arguments, in
// the model's own syntax (Qwen: <tool_call> tags), returned as OpenAI tool_calls.
TEST(ServerE2E, forced_tool_calls) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("vocab-qwen2-qwen2-Q8_0"), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    json body = forced_tools_body();
    EXPECT_GT(valid_forced_tool_calls(c, body), 0);
    // A named function, streamed: the call arrives as a tool_calls delta.
    body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "add"}}}};
    body["stream"] = true;
    body["seed"] = 1;
    auto s = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(s);
    bool saw_call = false;
    std::istringstream lines(s->body);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("data: {", 0) != 0) continue;
        const json chunk = json::parse(line.substr(6));
        if (chunk["choices"].empty()) continue;
        const json& delta = chunk["choices"][0]["delta"];
        if (delta.contains("tool_calls")) {
            saw_call = true;
            EXPECT_EQ(delta["tool_calls"][0]["function"]["name"], "add");
            EXPECT_EQ(delta["tool_calls"][0]["index"], 0);
        }
    }
    // The model may run out of tokens before closing the call; with 200 it closes it here.
    EXPECT_TRUE(saw_call) << s->body.substr(0, 2000);
}

}  // namespace

namespace {

// Gemma 4's tool-call notation decoded by a real model: a copy of a reference model carrying
// Gemma 4's published chat template, so the server detects the syntax from the template, renders
// the tools through it, constrains the answer to <|tool_call>call:name{...}<tool_call|> with each
// tool's schema, and parses it back into OpenAI tool_calls.
TEST(ServerE2E, gemma_tool_calls_are_decoded_in_its_notation_and_parsed) {
    TF_REQUIRE_REFERENCE();
    const auto tmpl_path = tf::test::shared_dir() / "peer-tests/chat-templates/templates/google-gemma-4-31B-it.jinja";
    if (!std::filesystem::exists(tmpl_path)) GTEST_SKIP() << "no " << tmpl_path;
    std::stringstream tmpl;
    tmpl << std::ifstream(tmpl_path).rdbuf();
    auto f = tf::gguf::File::open(model_path("vocab-qwen2-qwen2-Q8_0"));
    ASSERT_TRUE(f.ok()) << f.error().message;
    auto w = tf::gguf::Writer::from_file(*f);
    w.set("tokenizer.chat_template", tf::gguf::Value::string(tmpl.str()));
    const auto path = (std::filesystem::temp_directory_path() / ("tf-gemma4-tools-" + std::to_string(::getpid()) + ".gguf")).string();
    ASSERT_TRUE(w.write(path).ok());
    {
        tf::test::ServerProcess srv({"-m", path, "-t", "1"});
        ASSERT_GT(srv.port(), 0) << srv.stderr_text();
        httplib::Client c("127.0.0.1", srv.port());
        EXPECT_GT(valid_forced_tool_calls(c, forced_tools_body()), 0);
    }
    std::filesystem::remove(path);
}

}  // namespace

namespace {

// The sum of a metric's series (over their labels); -1 when it is absent.
double metric_sum(const std::string& text, const std::string& name) {
    double sum = 0;
    bool found = false;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(name, 0) != 0 || line.size() <= name.size() || (line[name.size()] != ' ' && line[name.size()] != '{')) continue;
        sum += std::stod(line.substr(line.rfind(' ') + 1));
        found = true;
    }
    return found ? sum : -1;
}

int64_t metric(httplib::Client& c, const std::string& name) {
    auto r = c.Get("/metrics");
    if (!r) return -1;
    return static_cast<int64_t>(metric_sum(r->body, name));
}

// Loaded models as /api/ps lists them.
std::vector<std::string> loaded_models(httplib::Client& c) {
    std::vector<std::string> names;
    auto r = c.Get("/api/ps");
    if (!r || r->status != 200) return {"<error>"};
    const json listed = json::parse(r->body);
    for (const auto& m : listed["models"]) names.push_back(m["name"]);
    return names;
}

// Several models: routed by "model", loaded on first use, unloaded when idle past their
// keep-alive (or at once with keep_alive 0), within a memory budget; counters per model.
TEST(ServerE2E, several_models_load_on_demand_and_unload_when_idle) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", "llama=" + model_path("tiny-llama-Q8_0"), "-m", "qwen=" + model_path("tiny-qwen2-Q8_0"), "-t", "1",
                                 "--parallel", "1", "-c", "256", "--keep-alive", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    auto models = c.Get("/v1/models");
    ASSERT_TRUE(models);
    const json listed = json::parse(models->body)["data"];
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0]["id"], "llama");
    EXPECT_EQ(listed[1]["id"], "qwen");
    auto tags = c.Get("/api/tags");
    ASSERT_TRUE(tags);
    EXPECT_EQ(json::parse(tags->body)["models"][1]["details"]["family"], "qwen2");

    // A completion from each: the answer names its model; the two models differ.
    json body = {{"prompt", "Hello"}, {"max_tokens", 6}, {"temperature", 0}, {"seed", 1}};
    body["model"] = "qwen";
    auto q = c.Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(q);
    ASSERT_EQ(q->status, 200) << q->body;
    EXPECT_EQ(json::parse(q->body)["model"], "qwen");
    body["model"] = "llama";
    auto l = c.Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(l);
    ASSERT_EQ(l->status, 200) << l->body;
    EXPECT_EQ(json::parse(l->body)["model"], "llama");
    EXPECT_NE(json::parse(l->body)["choices"][0]["text"], json::parse(q->body)["choices"][0]["text"]);

    // Unknown names: 404 in each API's shape.
    body["model"] = "nonesuch";
    auto u = c.Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->status, 404);
    EXPECT_EQ(json::parse(u->body)["error"]["code"], "model_not_found");
    auto uo = c.Post("/api/generate", R"({"model":"nonesuch","prompt":"x","stream":false})", "application/json");
    ASSERT_TRUE(uo);
    EXPECT_EQ(uo->status, 404);
    EXPECT_EQ(json::parse(uo->body)["error"], "model 'nonesuch' not found");

    // Idle past one second: both unload, by themselves.
    std::vector<std::string> now;
    for (int i = 0; i < 100; ++i) {
        now = loaded_models(c);
        if (now.empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(now.empty()) << now.size();
    // keep_alive -1 keeps one loaded; an empty prompt with keep_alive 0 unloads it at once.
    auto g = c.Post("/api/generate", R"({"model":"qwen","prompt":"Hi","stream":false,"keep_alive":-1,"options":{"num_predict":2}})", "application/json");
    ASSERT_TRUE(g);
    ASSERT_EQ(g->status, 200) << g->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(loaded_models(c), std::vector<std::string>{"qwen"});
    auto ps = c.Get("/api/ps");
    ASSERT_TRUE(ps);
    EXPECT_EQ(json::parse(ps->body)["models"][0]["expires_at"], "2999-01-01T00:00:00Z");
    auto un = c.Post("/api/generate", R"({"model":"qwen","keep_alive":0})", "application/json");
    ASSERT_TRUE(un);
    EXPECT_EQ(json::parse(un->body)["done_reason"], "unload");
    EXPECT_TRUE(loaded_models(c).empty());
    auto bad = c.Post("/api/generate", R"({"model":"qwen","prompt":"x","keep_alive":"soon"})", "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);

    // Counters survive unloading and are kept per model; latency histograms count every answer.
    auto m = c.Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("terraferma_requests_total{model=\"qwen\"} 2"), std::string::npos) << m->body;
    EXPECT_NE(m->body.find("terraferma_requests_total{model=\"llama\"} 1"), std::string::npos) << m->body;
    EXPECT_EQ(metric_sum(m->body, "terraferma_time_to_first_token_seconds_count"), 3);
    EXPECT_EQ(metric_sum(m->body, "terraferma_inter_token_latency_seconds_count"), 5 + 5 + 1);
    EXPECT_NE(m->body.find("terraferma_time_to_first_token_seconds_bucket{model=\"llama\",le=\"+Inf\"} 1"), std::string::npos);
}

TEST(ServerE2E, a_memory_budget_unloads_idle_models_to_make_room) {
    TF_REQUIRE_REFERENCE();
    const std::vector<std::string> models = {"-m", "llama=" + model_path("tiny-llama-Q8_0"), "-m", "qwen=" + model_path("tiny-qwen2-Q8_0")};
    std::vector<std::string> args = models;
    for (const char* a : {"-t", "1", "--parallel", "1", "-c", "256"}) args.push_back(a);
    // Sizes as the server counts them (weights + KV cache), from a run without a budget.
    uint64_t llama = 0, qwen = 0;
    {
        tf::test::ServerProcess srv(args);
        ASSERT_GT(srv.port(), 0) << srv.stderr_text();
        httplib::Client c("127.0.0.1", srv.port());
        ASSERT_TRUE(c.Post("/api/generate", R"({"model":"qwen"})", "application/json"));
        auto ps = c.Get("/api/ps");
        ASSERT_TRUE(ps);
        const json listed = json::parse(ps->body);
        for (const auto& m : listed["models"]) (m["name"] == "llama" ? llama : qwen) = m["size"].get<uint64_t>();
    }
    ASSERT_GT(llama, 0u);
    ASSERT_GT(qwen, 0u);
    args.push_back("--max-memory-mb");
    args.push_back(std::to_string((static_cast<double>(std::max(llama, qwen)) + static_cast<double>(std::min(llama, qwen)) / 2) / 1048576.0));
    tf::test::ServerProcess srv(args);
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    EXPECT_EQ(loaded_models(c), std::vector<std::string>{"llama"});
    auto g = c.Post("/api/generate", R"({"model":"qwen","prompt":"Hi","stream":false,"options":{"num_predict":2}})", "application/json");
    ASSERT_TRUE(g);
    ASSERT_EQ(g->status, 200) << g->body;
    EXPECT_EQ(loaded_models(c), std::vector<std::string>{"qwen"});
}

// Raw HTTP: wrong types are 400 naming the field; a client that goes away mid-stream frees its
// slot (the generation is cancelled) and the server keeps serving.
TEST(ServerE2E, wrong_types_and_mid_stream_disconnects) {
    TF_REQUIRE_REFERENCE();
    // A long context, so that the abandoned generation could run for tens of seconds.
    tf::test::ServerProcess srv({"-m", model_path("vocab-llama3-llama-Q8_0"), "-t", "1", "--parallel", "2", "-c", "32768"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    for (const auto& [body, param] : std::vector<std::pair<std::string, std::string>>{
             {R"({"messages":"hi"})", ""}, {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":"many"})", "max_tokens"},
             {R"({"messages":[{"role":"user","content":"x"}],"stop":[1,2]})", "stop"},
             {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}})", "response_format"},
             {R"({"messages":[{"content":"no role"}]})", "messages"}, {R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", "stream"},
             {R"({"messages":[{"role":"user","content":"x"}],"logprobs":"yes"})", "logprobs"},
             {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs"},
             {R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", "top_logprobs"}}) {
        auto r = c.Post("/v1/chat/completions", body, "application/json");
        ASSERT_TRUE(r) << body;
        EXPECT_EQ(r->status, 400) << body << " -> " << r->body;
        if (!param.empty()) {
            EXPECT_EQ(json::parse(r->body)["error"]["param"], param) << body;
        }
    }
    for (const auto& [body, param] : std::vector<std::pair<std::string, std::string>>{
             {R"({"input":[]})", "input"}, {R"({"input":[1,-5]})", "input"}, {R"({"input":"x","encoding_format":"hex"})", "encoding_format"},
             {R"({"input":"x","dimensions":3})", "dimensions"}, {R"({"input":[{"text":"x"}]})", "input"}}) {
        auto r = c.Post("/v1/embeddings", body, "application/json");
        ASSERT_TRUE(r) << body;
        EXPECT_EQ(r->status, 400) << body << " -> " << r->body;
        EXPECT_EQ(json::parse(r->body)["error"]["param"], param) << body;
    }
    auto ol = c.Post("/api/embed", R"({"input":"x","truncate":"no"})", "application/json");
    ASSERT_TRUE(ol);
    EXPECT_EQ(ol->status, 400) << ol->body;
    // Start an endless stream, read its first bytes, hang up.
    {
        httplib::Client s("127.0.0.1", srv.port());
        json body = chat_body("Tell me everything.", 100000, 1.0, 1);
        body["stream"] = true;
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/chat/completions";
        req.body = body.dump();
        req.set_header("Content-Type", "application/json");
        size_t got = 0;
        req.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
            got += n;
            return got < 2000;  // returning false closes the connection
        };
        s.send(req);
        EXPECT_GE(got, 2000u);
    }
    int64_t active = -1;
    for (int i = 0; i < 30 && active != 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        active = metric(c, "terraferma_active_requests");
    }
    EXPECT_EQ(active, 0) << "the abandoned generation still runs";
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(chat_text(c, chat_body("Still there?", 4, 0.0, 1)).find("<error"), std::string::npos);
}

// A client that sends half a request and stalls holds one connection, not the server: other
// clients are answered meanwhile, and the stalled one is answered or dropped once it goes on.
TEST(ServerE2E, a_stalled_client_does_not_block_the_others) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama-Q8_0"), "-t", "1", "--parallel", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    std::vector<int> stalled;
    for (int i = 0; i < 3; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        ASSERT_GE(fd, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(srv.port()));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        const std::string partial = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"prompt\":";
        ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
        stalled.push_back(fd);
    }
    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(20, 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.Post("/v1/completions", R"({"prompt":"Hello","max_tokens":4,"temperature":0})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
    // The stalled requests end as malformed JSON bodies would: a 400, never a crash.
    for (int fd : stalled) {
        const std::string rest(200 - 10, ' ');
        ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        char buf[512] = {};
        const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
        EXPECT_GT(n, 0);
        EXPECT_NE(std::string(buf).find("HTTP/1.1 400"), std::string::npos) << buf;
        ::close(fd);
    }
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

}  // namespace

namespace {

// Never HTTP 200 with a silently invalid answer: strict schemas the grammar cannot guarantee are
// refused at request time (400 naming keyword and pointer), so is a tool whose parameters use a
// keyword nothing enforces; an answer under a schema with a gap (uniqueItems) is checked, and one
// that violates it ends with finish_reason "schema_violation" and its violations — streamed,
// not streamed, and on Ollama's API alike.
TEST(ServerE2E, answers_are_valid_or_say_they_are_not) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(120, 0);
    const json schema = {{"type", "object"},
                         {"properties", {{"tags", {{"type", "array"}, {"items", {{"type", "string"}, {"pattern", "^[ab]$"}}}, {"minItems", 2}, {"maxItems", 2},
                                                   {"uniqueItems", true}}}}},
                         {"required", {"tags"}}};
    json body = chat_body("Tags:", 64, 1.0, 1);
    body["top_k"] = 0;  // the whole distribution: the adversary repeats itself often enough
    body["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "t"}, {"strict", true}, {"schema", schema}}}};
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("'uniqueItems' at /properties/tags"), std::string::npos) << r->body;

    // A tool with patternProperties: refused, naming the tool.
    json tools_body = chat_body("Call it.", 64, 1.0, 1);
    tools_body["tools"] = json::array({{{"type", "function"},
                                        {"function", {{"name", "lookup"}, {"parameters", {{"type", "object"}, {"patternProperties", {{"^x", {{"type", "string"}}}}}}}}}}});
    tools_body["tool_choice"] = "required";
    r = c.Post("/v1/chat/completions", tools_body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("tool 'lookup'"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("patternProperties"), std::string::npos) << r->body;

    // Not strict: served, checked.
    body["response_format"]["json_schema"]["strict"] = false;
    auto unique = [](const json& doc) {
        std::set<std::string> s;
        for (const auto& t : doc["tags"]) s.insert(t.get<std::string>());
        return s.size() == doc["tags"].size();
    };
    int violations = 0, valid = 0, redrawn = 0;
    for (int seed = 1; seed <= 6; ++seed) {
        body["seed"] = seed;
        body["stream"] = false;
        r = c.Post("/v1/chat/completions", body.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        const json choice = json::parse(r->body)["choices"][0];
        const json doc = json::parse(choice["message"]["content"].get<std::string>());
        if (unique(doc)) {
            EXPECT_EQ(choice["finish_reason"], "stop") << choice.dump();
            EXPECT_FALSE(choice.contains("violations"));
            ++valid;
        } else {
            EXPECT_EQ(choice["finish_reason"], "schema_violation") << choice.dump();
            ASSERT_TRUE(choice.contains("violations"));
            EXPECT_EQ(choice["violations"][0]["keyword"], "uniqueItems");
            EXPECT_EQ(choice["violations"][0]["path"], "/tags");
            ++violations;
        }
        // Streamed: the same answer (same seed), the same verdict in the last chunk.
        body["stream"] = true;
        auto s = c.Post("/v1/chat/completions", body.dump(), "application/json");
        ASSERT_TRUE(s);
        std::string text;
        json last;
        std::istringstream lines(s->body);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("data: {", 0) != 0) continue;
            const json chunk = json::parse(line.substr(6));
            if (chunk["choices"].empty()) continue;
            text += chunk["choices"][0]["delta"].value("content", "");
            if (!chunk["choices"][0]["finish_reason"].is_null()) last = chunk["choices"][0];
        }
        // A streamed answer cannot be taken back: it is the first draw, with its verdict. A
        // non-streamed one that failed was drawn again (twice at most, derived seeds).
        const json sdoc = json::parse(text);
        EXPECT_EQ(last["finish_reason"], unique(sdoc) ? "stop" : "schema_violation") << last.dump();
        if (unique(sdoc)) {
            EXPECT_EQ(text, choice["message"]["content"].get<std::string>());
        } else {
            EXPECT_EQ(last["violations"][0]["keyword"], "uniqueItems");
            redrawn += choice["finish_reason"] == "stop";
        }
        // Ollama: done_reason says the same.
        json ollama = {{"model", "any"}, {"messages", body["messages"]}, {"stream", false}, {"format", schema},
                       {"options", {{"temperature", 1.0}, {"seed", seed}, {"num_predict", 64}, {"top_k", 0}, {"top_p", 1.0}, {"min_p", 0.0}}}};
        auto o = c.Post("/api/chat", ollama.dump(), "application/json");
        ASSERT_TRUE(o);
        ASSERT_EQ(o->status, 200) << o->body;
        const json oj = json::parse(o->body);
        const json odoc = json::parse(oj["message"]["content"].get<std::string>());
        EXPECT_EQ(oj["done_reason"], unique(odoc) ? "stop" : "schema_violation") << oj.dump();
    }
    std::printf("[server] 6 answers under a uniqueItems schema: %d valid, %d reported as schema_violation; %d streamed violations fixed by a redraw\n",
                valid, violations, redrawn);
    EXPECT_GT(violations + redrawn, 0) << "the adversary never repeated a tag: the test proves nothing";
}

}  // namespace

namespace {

// Web safety: a request naming another host (DNS rebinding) is refused; a web page of another
// origin cannot start a generation (a text/plain POST, which a browser sends without a
// preflight); only --cors-origin gets CORS headers; JSON is read whatever the Content-Type,
// beyond httplib's 8 KiB form limit (what `curl -d` sends).
TEST(ServerE2E, hosts_origins_and_content_types) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1", "--cors-origin", "https://app.example", "--max-body-mb", "32"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(60, 0);
    auto rebound = c.Get("/v1/models", {{"Host", "evil.example:" + std::to_string(srv.port())}});
    ASSERT_TRUE(rebound);
    EXPECT_EQ(rebound->status, 403);
    EXPECT_NE(rebound->body.find("evil.example"), std::string::npos);
    auto local = c.Get("/v1/models", {{"Host", "localhost:" + std::to_string(srv.port())}});
    ASSERT_TRUE(local);
    EXPECT_EQ(local->status, 200);

    const json body = chat_body("Hello", 4, 0.0, 1);
    const auto before = c.Get("/metrics");
    ASSERT_TRUE(before);
    auto cross = c.Post("/v1/chat/completions", {{"Origin", "https://evil.example"}}, body.dump(), "text/plain");
    ASSERT_TRUE(cross);
    EXPECT_EQ(cross->status, 403) << cross->body;
    auto ollama_cross = c.Post("/api/generate", {{"Origin", "http://evil.example"}}, R"({"model":"x","prompt":"hi"})", "text/plain");
    ASSERT_TRUE(ollama_cross);
    EXPECT_EQ(ollama_cross->status, 403);
    const auto after = c.Get("/metrics");
    ASSERT_TRUE(after);
    auto requests = [](const std::string& m) {
        const size_t at = m.find("terraferma_requests_total{");
        return at == std::string::npos ? std::string() : m.substr(at, m.find('\n', at) - at);
    };
    EXPECT_EQ(requests(before->body), requests(after->body)) << "a refused request started a generation";

    // The configured origin: preflight and answer with CORS headers.
    auto pre = c.Options("/v1/chat/completions", {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 204);
    EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
    auto allowed = c.Post("/v1/chat/completions", {{"Origin", "https://app.example"}}, body.dump(), "application/json");
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->status, 200) << allowed->body;
    EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
    auto other_pre = c.Options("/v1/chat/completions", {{"Origin", "https://evil.example"}});
    ASSERT_TRUE(other_pre);
    EXPECT_EQ(other_pre->status, 403);

    // Objects with 100k or 1M keys and deep nesting are refused after one linear pass (an
    // ordered object would take seconds to minutes to build), well within a second each.
    for (size_t keys : {100000u, 1000000u}) {
        std::string many = "{\"model\":\"x\",\"messages\":[],\"k\":{";
        for (size_t i = 0; i < keys; ++i) many += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
        many += "}}";
        const auto t0 = std::chrono::steady_clock::now();
        auto r = c.Post("/v1/chat/completions", many, "application/json");
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413) << r->body.substr(0, 200);
        EXPECT_NE(r->body.find("10000 keys"), std::string::npos);
        EXPECT_LT(secs, 5.0) << keys << " keys";  // linear: ~0.1 s for 1M keys here; a sanitizer build is slower
    }
    auto deep = c.Post("/api/chat", std::string(1000, '[') + std::string(1000, ']'), "application/json");
    ASSERT_TRUE(deep);
    EXPECT_EQ(deep->status, 413);

    // A 20 KiB body sent as curl -d sends it (form-urlencoded): read as JSON.
    json long_body = chat_body("Hello", 2, 0.0, 1);
    long_body["user"] = std::string(20000, 'a');  // an end-user id, ignored: just bytes
    auto form = c.Post("/v1/chat/completions", long_body.dump(), "application/x-www-form-urlencoded");
    ASSERT_TRUE(form);
    EXPECT_EQ(form->status, 200) << form->body.substr(0, 300);
}

// A request without a seed gets a fresh one, reported, which reproduces the answer.
TEST(ServerE2E, requests_without_a_seed_get_a_fresh_reported_one) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("tiny-llama"), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(60, 0);
    json body = chat_body("Once upon a time", 24, 1.0, 0);
    body.erase("seed");
    std::set<std::string> texts;
    std::set<uint64_t> seeds;
    json first;
    for (int i = 0; i < 4; ++i) {
        auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        const json j = json::parse(r->body);
        ASSERT_TRUE(j.contains("seed")) << r->body;
        seeds.insert(j["seed"].get<uint64_t>());
        texts.insert(j["choices"][0]["message"]["content"].get<std::string>());
        if (i == 0) first = j;
    }
    EXPECT_EQ(seeds.size(), 4u);
    EXPECT_GT(texts.size(), 1u) << "identical requests at temperature 1 gave identical answers";
    body["seed"] = first["seed"];
    auto again = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(again);
    EXPECT_EQ(json::parse(again->body)["choices"][0]["message"]["content"], first["choices"][0]["message"]["content"]);
}

// A second server on a port in use exits with an error (no SO_REUSEPORT sharing); --timeout is a
// wall-clock deadline that ends a long generation with 504 (streamed: finish_reason
// "cancelled"), never a silent "stop".
TEST(ServerE2E, port_in_use_and_timeouts) {
    TF_REQUIRE_REFERENCE();
    tf::test::ServerProcess srv({"-m", model_path("vocab-llama3-llama-Q8_0"), "-t", "1", "--timeout", "1", "-c", "8192"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    auto second = tf::test::run_terraferma({"serve", "-m", model_path("tiny-llama"), "--port", std::to_string(srv.port())});
    EXPECT_NE(second.exit_code, 0);
    EXPECT_NE(second.err.find("cannot listen"), std::string::npos) << second.err;

    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(60, 0);
    json body = chat_body("Tell a long story.", 6000, 1.0, 3);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504) << r->body.substr(0, 300);
    EXPECT_NE(r->body.find("--timeout"), std::string::npos);
    EXPECT_LT(secs, 10.0);  // 1 s, and one decode step (generous for a loaded CI machine)
    body["stream"] = true;
    auto s = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(s);
    EXPECT_NE(s->body.find("\"finish_reason\":\"cancelled\""), std::string::npos) << s->body.substr(s->body.size() > 400 ? s->body.size() - 400 : 0);
}

}  // namespace

namespace {

// A gpt-oss model whose vocabulary has harmony's control tokens and whose chat template is gpt-oss's
// own (../shared), served: a forced tool call comes back as an OpenAI tool call with JSON
// arguments that satisfy the tool's parameters, and a plain answer is the final channel's text,
// never harmony markup.
TEST(ServerE2E, gpt_oss_harmony_tool_calls_and_channels) {
    TF_REQUIRE_REFERENCE();
    const auto tmpl_path = tf::test::shared_dir() / "peer-tests/chat-templates/templates/openai-gpt-oss-120b.jinja";
    if (!std::filesystem::exists(tmpl_path)) GTEST_SKIP() << "no gpt-oss template";
    std::ifstream tin(tmpl_path);
    std::stringstream tmpl;
    tmpl << tin.rdbuf();
    auto f = tf::gguf::File::open(model_path("tiny-gpt-oss-MXFP4_MOE"));
    ASSERT_TRUE(f.ok());
    auto w = tf::gguf::Writer::from_file(*f);
    std::vector<std::string> tokens = f->find("tokenizer.ggml.tokens")->array_strings();
    const std::vector<std::string> harmony = {"<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>", "<|call|>"};
    std::vector<int32_t> types;
    const auto* tv = f->find("tokenizer.ggml.token_type");
    for (uint64_t i = 0; i < tokens.size(); ++i) types.push_back(static_cast<int32_t>(*tv->array_int(i)));
    for (size_t k = 0; k < harmony.size(); ++k) {
        tokens[tokens.size() - 1 - k] = harmony[k];
        types[types.size() - 1 - k] = 3;  // control
    }
    w.set("tokenizer.ggml.tokens", tf::gguf::Value::string_array(tokens));
    w.set("tokenizer.ggml.token_type", tf::gguf::Value::i32_array(types));
    w.set("tokenizer.ggml.eos_token_id", tf::gguf::Value::u32(static_cast<uint32_t>(tokens.size() - 6)));  // <|return|>
    w.set("tokenizer.chat_template", tf::gguf::Value::string(tmpl.str()));
    const auto path = std::filesystem::temp_directory_path() / ("tf-harmony-" + std::to_string(::getpid()) + ".gguf");
    ASSERT_TRUE(w.write(path.string()).ok());
    tf::test::ServerProcess srv({"-m", path.string(), "-t", "1"});
    ASSERT_GT(srv.port(), 0) << srv.stderr_text();
    httplib::Client c("127.0.0.1", srv.port());
    c.set_read_timeout(120, 0);
    const json tools = json::parse(R"([{"type":"function","function":{"name":"get_weather","description":"Current weather",
        "parameters":{"type":"object","properties":{"location":{"type":"string","maxLength":12},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},
        "required":["location"],"additionalProperties":false}}}])");
    json body = {{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "Weather in Rome?"}}})},
                 {"tools", tools}, {"tool_choice", "required"}, {"max_tokens", 120}, {"temperature", 0}};
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    const json& choice = j["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls") << r->body;
    ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << r->body;
    EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["name"], "get_weather");
    const json args = json::parse(choice["message"]["tool_calls"][0]["function"]["arguments"].get<std::string>());
    ASSERT_TRUE(args.contains("location")) << args;
    size_t code_points = 0;  // maxLength counts characters, not bytes
    for (unsigned char ch : args["location"].get<std::string>()) code_points += (ch & 0xC0) != 0x80;
    EXPECT_LE(code_points, 12u) << args;

    // No tools: whatever the random model says, no harmony marker reaches the client.
    json plain = {{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "Hello"}}})}, {"max_tokens", 24}, {"temperature", 0}};
    auto p = c.Post("/v1/chat/completions", plain.dump(), "application/json");
    ASSERT_TRUE(p);
    ASSERT_EQ(p->status, 200) << p->body;
    const std::string content = json::parse(p->body)["choices"][0]["message"]["content"].get<std::string>();
    for (const auto& m : harmony) EXPECT_EQ(content.find(m), std::string::npos) << content;
    std::filesystem::remove(path);
}

}  // namespace
