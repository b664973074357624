#include "api/openai_answer.h"

#include <algorithm>
#include <cstring>

#include "api/answer_json.h"
#include "api/job_wait.h"
#include "api/openai_request.h"
#include "api/openai_response.h"

namespace tf::api::openai {

namespace {

std::string base64(const float* v, size_t n) {
    static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes(n * 4, '\0');
    for (size_t i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, v + i, 4);
        for (int b = 0; b < 4; ++b)
            bytes[i * 4 + static_cast<size_t>(b)] = static_cast<char>((u >> (8 * b)) & 0xFF);  // little-endian
    }
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const uint32_t a = static_cast<uint8_t>(bytes[i]);
        const uint32_t b = i + 1 < bytes.size() ? static_cast<uint8_t>(bytes[i + 1]) : 0;
        const uint32_t c = i + 2 < bytes.size() ? static_cast<uint8_t>(bytes[i + 2]) : 0;
        const uint32_t w = (a << 16) | (b << 8) | c;
        out += kAlphabet[(w >> 18) & 63];
        out += kAlphabet[(w >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(w >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[w & 63] : '=';
    }
    return out;
}

// Both generating endpoints: the n choices queued together, then gathered in order.
Reply whole(Service& svc, const ojson& body, Endpoint endpoint, int timeout_s, const OnAbandon& abandon) {
    auto started = start(svc, body, endpoint);
    if (!started) return failure(started.error());
    const auto& jobs = started->jobs;
    auto cancel_all = [jobs] {
        for (auto& j : jobs) j->cancel();
    };
    if (abandon) abandon(cancel_all);
    const bool chat = endpoint == Endpoint::Chat;
    const std::string id = new_id(chat ? "chatcmpl" : "cmpl");
    const bool want_logprobs = chat ? wants_chat_logprobs(body) : wants_completion_logprobs(body);
    const bool parse = chat && parse_whole(svc, body);
    const auto deadline = deadline_after(timeout_s);
    ojson choices = ojson::array();
    std::vector<engine::JobEvent> finals;
    for (size_t i = 0; i < jobs.size(); ++i) {
        std::string text;
        std::vector<sampling::TokenLogprob> lps;
        engine::JobEvent e = collect(*jobs[i], text, deadline, &lps);
        if (!e.error.empty()) {
            cancel_all();
            return failure({ErrorKind::Internal, e.error, ""});
        }
        if (timed_out(e, deadline)) {
            cancel_all();
            return failure(
                {ErrorKind::Timeout,
                 "the request ran past the server's --timeout of " + std::to_string(timeout_s) + " s and was cancelled",
                 ""});
        }
        ojson choice;
        if (chat) {
            ChatMessage m =
                chat_message(svc.tool_syntax(), parse, text, e, "call-" + id + (i ? "-" + std::to_string(i) : ""));
            choice = {{"index", i},
                      {"message", std::move(m.message)},
                      {"logprobs", want_logprobs ? chat_logprobs(svc.tokenizer(), lps) : ojson(nullptr)},
                      {"finish_reason", m.finish}};
        } else {
            size_t offset = 0;
            choice = {{"text", text},
                      {"index", i},
                      {"logprobs", want_logprobs ? completion_logprobs(svc.tokenizer(), lps, offset) : ojson(nullptr)},
                      {"finish_reason", finish_reason(e)}};
        }
        add_violations(choice, e);
        choices.push_back(std::move(choice));
        finals.push_back(std::move(e));
    }
    ojson out = {{"id", id},
                 {"object", chat ? "chat.completion" : "text_completion"},
                 {"created", unix_now()},
                 {"model", svc.model_name()},
                 {"choices", std::move(choices)},
                 {"usage", usage_of(finals, started->n_prompt)}};
    if (chat) out["system_fingerprint"] = "terraferma";
    if (body.contains("seed")) out["seed"] = body["seed"];  // choice i used seed + i
    return {200, std::move(out)};
}

}  // namespace

Reply chat_completion(Service& svc, const ojson& body, int timeout_s, const OnAbandon& abandon) {
    return whole(svc, body, Endpoint::Chat, timeout_s, abandon);
}

Reply completion(Service& svc, const ojson& body, int timeout_s, const OnAbandon& abandon) {
    return whole(svc, body, Endpoint::Completion, timeout_s, abandon);
}

// input: a string, an array of strings, an array of token ids or an array of such arrays;
// encoding_format float (default) or base64 (little-endian float32, what the official SDKs ask for).
Reply embeddings(Service& svc, const ojson& body) {
    auto fail = [](std::string message, std::string param = "input") {
        return failure(bad_request(std::move(message), std::move(param)));
    };
    auto it = body.find("input");
    if (it == body.end()) return fail("'input' is required");
    std::vector<std::vector<int32_t>> inputs;
    auto ids = [&](const ojson& a, std::vector<int32_t>& out) {
        for (const auto& x : a) {
            if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
                x.get<int64_t>() >= static_cast<int64_t>(svc.model().hp.n_vocab))
                return false;
            out.push_back(x.get<int32_t>());
        }
        return true;
    };
    const char* bad_ids = "'input' token ids must be integers in the vocabulary";
    if (it->is_string()) {
        inputs.push_back(svc.tokenizer().encode(it->get<std::string>(), true, false));
    } else if (it->is_array() && !it->empty() && (*it)[0].is_number()) {
        inputs.emplace_back();
        if (!ids(*it, inputs.back())) return fail(bad_ids);
    } else if (it->is_array() && !it->empty()) {
        for (const auto& x : *it) {
            if (x.is_string()) {
                inputs.push_back(svc.tokenizer().encode(x.get<std::string>(), true, false));
            } else if (x.is_array()) {
                inputs.emplace_back();
                if (!ids(x, inputs.back())) return fail(bad_ids);
            } else {
                return fail("'input' must be a string, an array of strings, or token ids");
            }
        }
    } else {
        return fail("'input' must be a non-empty string, array of strings, or token ids");
    }
    if (inputs.size() > 2048) return fail("'input' holds more than 2048 items");
    std::string format = "float";
    if (auto f = body.find("encoding_format"); f != body.end() && !f->is_null()) {
        if (!f->is_string() || (*f != "float" && *f != "base64"))
            return fail("'encoding_format' must be float or base64", "encoding_format");
        format = f->get<std::string>();
    }
    const int64_t E = svc.model().hp.n_embd;
    if (auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
        if (!d->is_number_integer() || d->get<int64_t>() != E)
            return fail("'dimensions' must be this model's embedding size, " + std::to_string(E), "dimensions");
    }
    ojson data = ojson::array();
    size_t tokens = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].empty()) return fail("input " + std::to_string(i) + " is empty");
        if (static_cast<int64_t>(inputs[i].size()) > svc.embedding_max_tokens()) {
            return fail("input " + std::to_string(i) + " has " + std::to_string(inputs[i].size()) +
                        " tokens; at most " + std::to_string(svc.embedding_max_tokens()) +
                        " fit the context (--ctx-size)");
        }
        tokens += inputs[i].size();
    }
    auto vectors = svc.embed_many(inputs);
    if (!vectors) return failure({ErrorKind::Internal, vectors.error().message, ""});
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto& v = (*vectors)[i];
        ojson e = {{"object", "embedding"}, {"index", i}};
        e["embedding"] = format == "base64" ? ojson(base64(v.data(), v.size())) : ojson(v);
        data.push_back(std::move(e));
    }
    return {200, ojson{{"object", "list"},
                       {"data", data},
                       {"model", svc.model_name()},
                       {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}};
}

// The rerank request llama-server, Jina and Cohere share: a query, documents (strings, or
// objects with "text"), optional top_n and return_documents; results sorted by relevance, each
// with its index into the request's documents and the raw score of the reranker's head.
Reply rerank(Service& svc, const ojson& body) {
    auto fail = [](std::string message, std::string param) {
        return failure(bad_request(std::move(message), std::move(param)));
    };
    if (!svc.reranker()) {
        return fail("model '" + svc.model_name() +
                        "' is not a reranker (it has no classification head); load one such as bge-reranker",
                    "model");
    }
    const auto q = body.find("query");
    if (q == body.end() || !q->is_string()) return fail("'query' must be a string", "query");
    auto docs = body.find("documents");
    if (docs == body.end()) docs = body.find("texts");  // llama-server's alias
    if (docs == body.end() || !docs->is_array() || docs->empty())
        return fail("'documents' must be a non-empty array of strings", "documents");
    if (docs->size() > 2048) return fail("'documents' holds more than 2048 items", "documents");
    std::vector<std::string> texts;
    for (const auto& d : *docs) {
        if (d.is_string())
            texts.push_back(d.get<std::string>());
        else if (d.is_object() && d.contains("text") && d["text"].is_string())
            texts.push_back(d["text"].get<std::string>());
        else
            return fail("each document must be a string or an object with a string 'text'", "documents");
    }
    size_t top_n = texts.size();
    if (auto t = body.find("top_n"); t != body.end() && !t->is_null()) {
        if (!t->is_number_integer() || t->get<int64_t>() < 1)
            return fail("'top_n' must be a positive integer", "top_n");
        top_n = std::min(top_n, static_cast<size_t>(t->get<int64_t>()));
    }
    const bool return_documents = body.value("return_documents", ojson(false)) == true;
    std::vector<std::pair<float, size_t>> scored;
    size_t tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        size_t n = 0;
        auto score = svc.rerank(q->get<std::string>(), texts[i], n);
        if (!score) return fail("document " + std::to_string(i) + ": " + score.error().message, "documents");
        tokens += n;
        scored.emplace_back(*score, i);
    }
    // Highest first; equal scores keep the request's order.
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    ojson results = ojson::array();
    for (size_t r = 0; r < top_n; ++r) {
        ojson item = {{"index", scored[r].second}, {"relevance_score", scored[r].first}};
        if (return_documents) item["document"] = {{"text", texts[scored[r].second]}};
        results.push_back(std::move(item));
    }
    return {200, ojson{{"model", svc.model_name()},
                       {"object", "list"},
                       {"results", results},
                       {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}};
}

}  // namespace tf::api::openai
