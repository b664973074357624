// The API layer without HTTP: request bodies of both protocols become the same engine requests,
// and every failure carries its kind (and the field at fault) rather than a status to match.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "api/error.h"
#include "api/job_wait.h"
#include "api/ollama_request.h"
#include "api/ollama_response.h"
#include "api/openai_answer.h"
#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/request_json.h"
#include "api/service.h"
#include "support/reference.h"

namespace {

using ojson = nlohmann::ordered_json;
using tf::ErrorKind;
namespace api = tf::api;
namespace oa = tf::api::openai;
namespace ol = tf::api::ollama;

std::unique_ptr<api::Service> load(const std::string& name, int max_queue = 8, int n_ctx = 256) {
    api::ServiceOptions o;
    o.scheduler.n_slots = 1;
    o.scheduler.n_ctx_per_slot = n_ctx;
    o.scheduler.max_queue = max_queue;
    auto s = api::Service::load((tf::test::reference_dir() / "models" / (name + ".gguf")).string(), o);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
}

ojson chat(const std::string& user) {
    return {{"model", "m"}, {"messages", ojson::array({{{"role", "user"}, {"content", user}}})}, {"seed", 7}};
}

// The kind and field of a request's failure, as "Kind:param".
template <typename T>
std::string failure(const api::Result<T>& r) {
    if (r) return "accepted";
    const char* kinds[] = {"Invalid",   "NotFound", "Overloaded", "Unavailable", "Timeout",
                           "Cancelled", "TooLarge", "Forbidden",  "Upstream",    "Internal"};
    return std::string(kinds[static_cast<int>(r.error().kind)]) + ":" + r.error().param;
}

TEST(ApiRequestJson, shape_limits_are_too_large_and_garbage_is_invalid) {
    std::string keys = "{";
    for (int i = 0; i < 100000; ++i) keys += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    keys += "}";
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(failure(api::parse_request(keys)), "TooLarge:");
    std::printf("100k keys refused in %.1f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_EQ(failure(api::parse_request(std::string(200, '[') + std::string(200, ']'))), "TooLarge:");
    EXPECT_EQ(failure(api::parse_request("[1, 2]")), "Invalid:");
    EXPECT_EQ(failure(api::parse_request("{\"a\": ")), "Invalid:");
    auto ok = api::parse_request(R"({"model": "m", "n": 2})");
    ASSERT_TRUE(ok);
    EXPECT_EQ((*ok)["n"], 2);
}

TEST(ApiErrors, kinds_map_to_the_protocols_statuses_and_shapes) {
    EXPECT_EQ(api::http_status(ErrorKind::Invalid), 400);
    EXPECT_EQ(api::http_status(ErrorKind::NotFound), 404);
    EXPECT_EQ(api::http_status(ErrorKind::TooLarge), 413);
    EXPECT_EQ(api::http_status(ErrorKind::Forbidden), 403);
    EXPECT_EQ(api::http_status(ErrorKind::Overloaded), 503);
    EXPECT_EQ(api::http_status(ErrorKind::Unavailable), 503);
    EXPECT_EQ(api::http_status(ErrorKind::Timeout), 504);
    EXPECT_EQ(api::http_status(ErrorKind::Upstream), 502);
    EXPECT_EQ(api::http_status(ErrorKind::Internal), 500);
    const api::Reply missing = oa::failure({ErrorKind::NotFound, "no such model", "model"});
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.body["error"]["type"], "not_found_error");
    EXPECT_EQ(missing.body["error"]["code"], "model_not_found");
    EXPECT_EQ(missing.body["error"]["param"], "model");
    const api::Reply busy = oa::failure({ErrorKind::Overloaded, "busy", ""});
    EXPECT_EQ(busy.status, 503);
    EXPECT_EQ(busy.body["error"]["type"], "server_overloaded");
    EXPECT_TRUE(busy.body["error"]["param"].is_null());
    const api::Reply ollama = ol::failure(api::bad_request("'format' is wrong", "format"));
    EXPECT_EQ(ollama.status, 400);
    EXPECT_EQ(ollama.body, ojson({{"error", "'format' is wrong"}}));
}

TEST(ApiOpenAI, each_refusal_names_its_kind_and_field) {
    TF_REQUIRE_REFERENCE();
    auto svc = load("vocab-qwen2-qwen2-Q8_0");
    ASSERT_TRUE(svc);
    auto req = [&](ojson patch, oa::Endpoint e = oa::Endpoint::Chat) {
        ojson body = chat("hi");
        body.update(patch);
        return failure(oa::generation_request(*svc, body, e, 0));
    };
    EXPECT_EQ(req(ojson::object()), "accepted");
    EXPECT_EQ(req({{"temperature", 3}}), "Invalid:temperature");
    EXPECT_EQ(req({{"top_p", "high"}}), "Invalid:top_p");
    EXPECT_EQ(req({{"stop", ojson::array({1})}}), "Invalid:stop");
    EXPECT_EQ(req({{"logit_bias", {{"x", 1}}}}), "Invalid:logit_bias");
    EXPECT_EQ(req({{"top_logprobs", 3}}), "Invalid:top_logprobs");
    EXPECT_EQ(req({{"messages", ojson::array()}}), "Invalid:messages");
    EXPECT_EQ(req({{"response_format", {{"type", "xml"}}}}), "Invalid:response_format");
    EXPECT_EQ(req({{"response_format", {{"type", "json_schema"}}}}), "Invalid:response_format");
    EXPECT_EQ(req({{"response_format", {{"type", "json_schema"}, {"json_schema", 3}}}}), "Invalid:response_format");
    EXPECT_EQ(
        req({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "nonsense"}}}}}}}}),
        "Invalid:response_format");
    const ojson tools = ojson::parse(
        R"([{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"}}}}}])");
    EXPECT_EQ(req({{"tools", tools}, {"tool_choice", "sometimes"}}), "Invalid:tool_choice");
    // Flags of the wrong type are read as their default, never an exception.
    EXPECT_EQ(req({{"tools", tools}, {"parallel_tool_calls", "yes"}}), "accepted");
    EXPECT_EQ(req({{"stream_options", {{"include_usage", "yes"}}}}), "accepted");
    EXPECT_FALSE(oa::wants_usage(ojson{{"stream_options", {{"include_usage", 1}}}}));
    EXPECT_EQ(req({{"tools", tools}, {"tool_choice", {{"function", {{"name", 3}}}}}}), "Invalid:tool_choice");
    EXPECT_EQ(req({{"tools", tools}, {"tool_choice", "required"}, {"response_format", {{"type", "json_object"}}}}),
              "Invalid:response_format");
    EXPECT_EQ(req({{"prompt", 5}}, oa::Endpoint::Completion), "Invalid:prompt");
    EXPECT_EQ(req({{"prompt", std::string(2000, 'x') + " y z"}}, oa::Endpoint::Completion), "accepted");
    EXPECT_EQ(failure(oa::choice_count(ojson{{"n", 17}})), "Invalid:n");
    EXPECT_EQ(failure(oa::stream_flag(ojson{{"stream", "yes"}})), "Invalid:stream");
    // The prompt beyond the context is the scheduler's refusal, still a client error.
    ojson body = chat(std::string(3000, 'a') + " b c d");
    auto started = oa::start(*svc, body, oa::Endpoint::Chat);
    EXPECT_EQ(failure(started), "Invalid:");

    auto bert = load("tiny-bert");
    ASSERT_TRUE(bert);
    EXPECT_EQ(failure(oa::generation_request(*bert, chat("hi"), oa::Endpoint::Chat, 0)), "Invalid:model");
    EXPECT_EQ(failure(ol::chat_request(*bert, chat("hi"))), "Invalid:model");
}

TEST(ApiOllama, each_refusal_names_its_kind_and_field) {
    TF_REQUIRE_REFERENCE();
    auto svc = load("vocab-qwen2-qwen2-Q8_0");
    ASSERT_TRUE(svc);
    auto req = [&](ojson patch) {
        ojson body = chat("hi");
        body.update(patch);
        return failure(ol::chat_request(*svc, body));
    };
    EXPECT_EQ(req(ojson::object()), "accepted");
    EXPECT_EQ(req({{"options", 3}}), "Invalid:options");
    EXPECT_EQ(req({{"options", {{"temperature", "hot"}}}}), "Invalid:temperature");
    EXPECT_EQ(req({{"format", 5}}), "Invalid:format");
    EXPECT_EQ(req({{"logprobs", "yes"}}), "Invalid:logprobs");
    EXPECT_EQ(req({{"messages", "hi"}}), "Invalid:messages");
    EXPECT_EQ(failure(ol::generate_request(*svc, ojson{{"prompt", 1}})), "Invalid:prompt");
    EXPECT_EQ(failure(ol::generate_request(*svc, ojson{{"prompt", "hi"}, {"raw", "yes"}})), "accepted");
}

// The two protocols are two spellings of one engine request: the same conversation renders to
// the same tokens, and the same schema is the same compiled contract.
TEST(ApiProtocols, the_same_ask_is_the_same_engine_request) {
    TF_REQUIRE_REFERENCE();
    auto svc = load("vocab-qwen2-qwen2-Q8_0");
    ASSERT_TRUE(svc);
    const ojson schema =
        ojson::parse(R"({"type":"object","properties":{"total":{"type":"number"}},"required":["total"]})");
    ojson openai = chat("What is the total?");
    openai["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "t"}, {"schema", schema}}}};
    openai["stream"] = false;
    ojson ollama = chat("What is the total?");
    ollama["format"] = schema;
    ollama["stream"] = false;
    ollama["options"] = {{"seed", 7}};
    auto a = oa::generation_request(*svc, openai, oa::Endpoint::Chat, 0);
    auto b = ol::chat_request(*svc, ollama);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->prompt, b->prompt);
    ASSERT_TRUE(a->contract);
    EXPECT_EQ(a->contract.get(), b->contract.get());
    EXPECT_EQ(a->options.sampling.seed, b->options.sampling.seed);
    EXPECT_EQ(a->options.resample, b->options.resample);
    // Ollama's /api/generate of the same user text is the same prompt too.
    auto g = ol::generate_request(*svc, ojson{{"prompt", "What is the total?"}});
    ASSERT_TRUE(g);
    EXPECT_EQ(g->prompt, a->prompt);
    // Choice i of n samples with seed + i.
    auto second = oa::generation_request(*svc, openai, oa::Endpoint::Chat, 1);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->options.sampling.seed, a->options.sampling.seed + 1);
}

// The scheduler's refusal keeps its kind up to the reply: a full queue is a 503 a client may
// retry, not a 400.
TEST(ApiAdmission, a_full_queue_is_overloaded_and_a_deadline_is_a_timeout) {
    TF_REQUIRE_REFERENCE();
    // A long answer keeps the one slot busy for seconds, even on a loaded machine.
    auto svc = load("vocab-qwen2-qwen2-Q8_0", /*max_queue=*/0, /*n_ctx=*/8192);
    ASSERT_TRUE(svc);
    ojson body = chat("Tell me a long story");
    body["max_tokens"] = 8000;
    body["ignore_eos"] = true;
    auto first = oa::start(*svc, body, oa::Endpoint::Chat);
    ASSERT_TRUE(first);
    tf::engine::JobEvent e;
    while (!first->jobs[0]->next(e, 1000)) {
    }  // a first event: the one slot is busy
    auto second = oa::start(*svc, body, oa::Endpoint::Chat);
    EXPECT_EQ(failure(second), "Overloaded:");
    const api::Reply busy = oa::chat_completion(*svc, body, 60);
    EXPECT_EQ(busy.status, 503) << busy.body.dump();
    first->jobs[0]->cancel();
    std::string text;
    api::collect(*first->jobs[0], text, api::deadline_after(60));

    // A deadline already passed: the generation is cancelled and the reply says so (never a
    // 200 with an empty "stop"). On a service of its own: the slot above may take a moment to
    // be free again after its job's last event.
    auto roomy = load("vocab-qwen2-qwen2-Q8_0", /*max_queue=*/8, /*n_ctx=*/8192);
    ASSERT_TRUE(roomy);
    const api::Reply late = oa::chat_completion(*roomy, body, 0);
    EXPECT_EQ(late.status, 504) << late.body.dump();
    EXPECT_NE(late.body["error"]["message"].get<std::string>().find("--timeout"), std::string::npos);
}

}  // namespace
