#include "pipeline/tasks.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/chat_prompt.h"
#include "engine/score.h"
#include "pipeline/chunk.h"
#include "pipeline/merge.h"
#include "sampling/grammar/token_mask.h"
#include "util/sha256.h"

namespace tf::pipeline {

using ojson = nlohmann::ordered_json;

const char* default_prompt(const std::string& kind) {
    if (kind == "extract") {
        return "Extract the information described by this JSON schema from the document below. Answer with one JSON "
               "object "
               "that is valid against the schema; use null or leave out what the document does not "
               "say.\n\nSchema:\n{schema}\n\n"
               "Document:\n{document}";
    }
    if (kind == "classify") {
        return "Classify the document below. Answer with exactly one of these labels: "
               "{labels}.\n\nDocument:\n{document}";
    }
    return "Summarize the document below in at most {words} words. Keep names, numbers and dates "
           "exact.\n\nDocument:\n{document}";
}

std::string TaskConfig::effective_prompt() const {
    return prompt.empty() ? default_prompt(kind) : prompt;
}

std::string TaskConfig::key(const std::string& model_sha256) const {
    // The engine's version: a newer engine never serves an older one's result as its own.
    ojson k = {{"kind", kind},   {"model", model_sha256},           {"prompt", effective_prompt()},
               {"n_ctx", n_ctx}, {"max_output", max_output_tokens}, {"engine", kEngineVersion}};
    if (kind == "extract") k["schema"] = schema;
    if (kind == "classify") k["labels"] = labels;
    if (kind == "summarize") k["words"] = summary_words;
    // Only when not the default, so that the keys of earlier runs stay valid.
    if (k_type != TensorType::F16 || v_type != TensorType::F16) {
        k["kv"] = {std::string(tensor_type_name(k_type)), std::string(tensor_type_name(v_type))};
    }
    if (!route_key.empty()) k["route"] = route_key;
    const std::string s = k.dump();
    return sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

ojson TaskConfig::to_json() const {
    return {{"kind", kind},
            {"schema", schema},
            {"labels", labels},
            {"summary_words", summary_words},
            {"prompt", prompt},
            {"n_ctx", n_ctx},
            {"max_output_tokens", max_output_tokens},
            {"k_type", std::string(tensor_type_name(k_type))},
            {"v_type", std::string(tensor_type_name(v_type))},
            {"swa_extra", swa_extra},
            {"route_key", route_key}};
}

Result<TaskConfig> TaskConfig::from_json(const ojson& j) {
    // Written by to_json, but read back from a shared database: every field is checked.
    auto bad = [](const std::string& field) {
        return Error{"task configuration: '" + field + "' is missing or wrong"};
    };
    if (!j.is_object()) return bad("(object)");
    TaskConfig t;
    auto str = [&](const char* k, std::string& out) {
        if (!j.contains(k) || !j[k].is_string()) return false;
        out = j[k].get<std::string>();
        return true;
    };
    auto num = [&](const char* k, int& out) {
        if (!j.contains(k) || !j[k].is_number_integer()) return false;
        out = j[k].get<int>();
        return true;
    };
    if (!str("kind", t.kind) || (t.kind != "extract" && t.kind != "classify" && t.kind != "summarize"))
        return bad("kind");
    if (!j.contains("schema")) return bad("schema");
    t.schema = j["schema"];
    if (!j.contains("labels") || !j["labels"].is_array()) return bad("labels");
    for (const auto& l : j["labels"]) {
        if (!l.is_string()) return bad("labels");
        t.labels.push_back(l.get<std::string>());
    }
    if (!num("summary_words", t.summary_words) || !str("prompt", t.prompt) || !num("n_ctx", t.n_ctx) ||
        !num("max_output_tokens", t.max_output_tokens) || !num("swa_extra", t.swa_extra) ||
        !str("route_key", t.route_key))
        return bad("summary_words, prompt, n_ctx, max_output_tokens, swa_extra or route_key");
    if (t.n_ctx < 256 || t.max_output_tokens < 1 || t.max_output_tokens > t.n_ctx) return bad("n_ctx");
    std::string k, v;
    if (!str("k_type", k) || !str("v_type", v)) return bad("k_type");
    const auto kt = tensor_type_from_name(k), vt = tensor_type_from_name(v);
    if (!kt || !vt) return bad("k_type");
    t.k_type = *kt;
    t.v_type = *vt;
    return t;
}

namespace {

std::string sha256_of_text(const std::string& s) {
    return sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

}  // namespace

TaskRunner::TaskRunner(const model::Model& model, const tok::Tokenizer& tokenizer, const chat::ChatTemplate& tmpl,
                       const TaskConfig& cfg, int n_threads)
    : model_(model), tok_(tokenizer), tmpl_(tmpl), cfg_(cfg) {
    session_ = std::make_unique<engine::Session>(
        model, tokenizer,
        model::ContextOptions{cfg.n_ctx, 2, n_threads, model::AttentionNumerics::Float, cfg.k_type, cfg.v_type,
                              cfg.swa_extra});
    trie_ = std::make_shared<const grammar::TokenTrie>(tokenizer);
}

std::string task_prompt(const TaskConfig& cfg, const std::string& text) {
    std::string user = cfg.effective_prompt();
    std::string labels;
    for (const auto& l : cfg.labels) labels += (labels.empty() ? "" : ", ") + l;
    user = replace_all(user, "{schema}", cfg.schema.dump());
    user = replace_all(user, "{labels}", labels);
    user = replace_all(user, "{words}", std::to_string(cfg.summary_words));
    // The document last: its text may contain anything, including "{schema}".
    const size_t at = user.find("{document}");
    if (at != std::string::npos)
        user.replace(at, 10, text);
    else
        user += "\n\n" + text;
    return user;
}

Result<std::vector<int32_t>> TaskRunner::prompt_tokens(const std::string& text) {
    chat::ChatRequest req;
    req.messages = ojson::array({{{"role", "user"}, {"content", task_prompt(cfg_, text)}}});
    auto p = engine::render_chat(tok_, tmpl_, req);
    if (!p) return p.error();
    return p->tokens;
}

int TaskRunner::budget_for_document() const {
    // Room for the document in one prompt: the context minus the output and the instructions.
    const int instructions =
        static_cast<int>(tok_.encode(cfg_.effective_prompt() + cfg_.schema.dump(), false).size()) + 64;
    return std::max(64, cfg_.n_ctx - cfg_.max_output_tokens - instructions);
}

Result<std::string> TaskRunner::generate(const std::string& text, int max_tokens,
                                         std::shared_ptr<sampling::Constraint> c) {
    auto prompt = prompt_tokens(text);
    if (!prompt) return prompt.error();
    engine::GenerateOptions o;
    o.max_tokens = max_tokens;
    o.sampling.temperature = 0.0f;  // documents get the model's best answer, reproducibly
    const auto t0 = std::chrono::steady_clock::now();
    auto r = session_->generate(*prompt, o, nullptr, std::move(c));
    model_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) return r.error();
    tokens_in_ += static_cast<uint64_t>(r->timings.n_prompt);
    tokens_out_ += static_cast<uint64_t>(r->timings.n_generated);
    last_stop_ = r->stop_reason;
    return r->text;
}

Result<std::string> TaskRunner::generate_step(const std::string& step, const std::string& text, int max_tokens,
                                              std::shared_ptr<sampling::Constraint> c) {
    // The step's name carries a hash of its input: a value is only ever reused for the same text.
    const std::string key = step + ":" + sha256_of_text(text).substr(0, 32);
    if (memo_ && memo_->get) {
        if (auto v = memo_->get(key); v && !v->empty()) {
            last_stop_ = static_cast<engine::StopReason>((*v)[0] - '0');
            return v->substr(1);
        }
    }
    auto r = generate(text, max_tokens, std::move(c));
    if (!r) return r;
    if (memo_ && memo_->put)
        memo_->put(key, std::string(1, static_cast<char>('0' + static_cast<int>(last_stop_))) + *r);
    return r;
}

Result<ojson> TaskRunner::extract(const Document& doc) {
    if (!contract_) {  // the schema's grammar, masks and validator, shared by every document
        auto c = engine::OutputContract::json_schema(
            cfg_.schema, {},
            engine::Vocabulary{std::static_pointer_cast<const grammar::TokenTrie>(trie_), tok_.vocab().eog_tokens});
        if (!c) return c.error();
        contract_ = std::move(c.value());
    }
    const auto chunks = chunk_document(doc, tok_, budget_for_document(), 64);
    std::vector<ChunkAnswer> answers;
    for (const Chunk& ch : chunks) {
        auto text = chunks.size() == 1 ? generate(doc.text.substr(ch.begin, ch.end - ch.begin), cfg_.max_output_tokens,
                                                  contract_->constraint())
                                       : generate_step("extract:" + std::to_string(answers.size()),
                                                       doc.text.substr(ch.begin, ch.end - ch.begin),
                                                       cfg_.max_output_tokens, contract_->constraint());
        if (!text) return text.error();
        // The grammar closes an answer the limit cuts off, so it parses — but a field may be
        // missing or short: never taken as the document's data.
        const bool cut_off = last_stop_ == engine::StopReason::Length || last_stop_ == engine::StopReason::Context;
        const ojson part = ojson::parse(*text, nullptr, false);
        if (cut_off || part.is_discarded()) {
            return Error{"the model's answer was cut off before the JSON was complete" +
                         (chunks.size() > 1 ? " (part at page " + std::to_string(ch.page) + ")" : std::string()) +
                         " (raise --max-output)"};
        }
        answers.push_back({part, ch.page});
    }
    ojson merged, provenance = ojson::object(), dropped;
    if (answers.size() == 1 || !answers[0].value.is_object()) {
        merged = answers[0].value;
        if (merged.is_object()) {
            for (auto it = merged.begin(); it != merged.end(); ++it) provenance[it.key()] = {{"page", answers[0].page}};
        }
    } else {
        auto m = merge_chunk_answers(
            answers, cfg_.schema,
            [&](const std::string& field, const std::vector<Candidate>& c) { return choose(field, c); });
        if (!m) return m.error();
        merged = std::move(m->value);
        provenance = std::move(m->provenance);
        if (!m->dropped.empty()) dropped = std::move(m->dropped);
    }
    // The result as written is what is judged (formats asserted: a date must exist).
    const auto errors = contract_->check(merged.dump());
    if (!errors.empty()) {
        std::string msg = "the extracted JSON is not valid against the schema:";
        for (const auto& e : errors) msg += " " + engine::describe(e) + ";";
        return Error{msg};
    }
    ojson result = {{"output", merged}, {"provenance", provenance}, {"chunks", chunks.size()}};
    if (!dropped.is_null()) result["dropped"] = dropped;  // array items cut at maxItems, per field
    return result;
}

// Where a long document's parts found different values for one field, the model picks: it sees
// every candidate with its page and the log-probability of each candidate's text as the answer
// decides (as classify decides a label) — deterministic, and always one of the values found.
Result<size_t> TaskRunner::choose(const std::string& field, const std::vector<Candidate>& candidates) {
    std::string user = "The parts of one document were read one at a time. For the field \"" + field + "\"";
    if (cfg_.schema.is_object() && cfg_.schema.contains("properties") && cfg_.schema["properties"].is_object() &&
        cfg_.schema["properties"].contains(field) && cfg_.schema["properties"][field].is_object() &&
        cfg_.schema["properties"][field].contains("description") &&
        cfg_.schema["properties"][field]["description"].is_string()) {
        user += " (" + cfg_.schema["properties"][field]["description"].get<std::string>() + ")";
    }
    user += " they found these values:\n";
    std::vector<std::vector<int32_t>> options;
    for (const auto& c : candidates) {
        const std::string v = c.value.dump(-1, ' ', false, ojson::error_handler_t::replace);
        user += "- on page " + std::to_string(c.page) + ": " + v + "\n";
        options.push_back(tok_.encode(v, false));
    }
    user += "Which value is the right one for the whole document? Answer with that value exactly.";
    const std::string step = "choose:" + sha256_of_text(user).substr(0, 32);
    if (memo_ && memo_->get) {
        if (auto v = memo_->get(step); v && !v->empty()) return static_cast<size_t>(std::stoul(*v));
    }
    chat::ChatRequest req;
    req.messages = ojson::array({{{"role", "user"}, {"content", user}}});
    auto p = engine::render_chat(tok_, tmpl_, req);
    if (!p) return p.error();
    const auto t0 = std::chrono::steady_clock::now();
    auto scores = engine::score_options(session_->context(), p->tokens, options);
    model_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    session_->forget();
    if (!scores) return scores.error();
    tokens_in_ += p->tokens.size();
    const auto pick = static_cast<size_t>(std::max_element(scores->begin(), scores->end()) - scores->begin());
    if (memo_ && memo_->put) memo_->put(step, std::to_string(pick));
    return pick;
}

// Every chunk is read and scored; combine_label_scores (merge.h) makes the document's verdict.
Result<ojson> TaskRunner::classify(const Document& doc) {
    if (cfg_.labels.size() < 2) return Error{"classify needs at least two labels"};
    const auto chunks = chunk_document(doc, tok_, budget_for_document(), 0);
    std::vector<std::vector<int32_t>> options;
    for (const auto& l : cfg_.labels) options.push_back(tok_.encode(l, false));
    std::vector<std::vector<double>> per_chunk;
    for (size_t c = 0; c < chunks.size(); ++c) {
        const Chunk& ch = chunks[c];
        const std::string piece = doc.text.substr(ch.begin, ch.end - ch.begin);
        const std::string step = "classify:" + std::to_string(c) + ":" + sha256_of_text(piece).substr(0, 32);
        std::optional<std::vector<double>> scores;
        if (chunks.size() > 1 && memo_ && memo_->get) {
            if (auto v = memo_->get(step)) {
                const ojson j = ojson::parse(*v, nullptr, false);
                if (j.is_array() && j.size() == options.size()) scores = j.get<std::vector<double>>();
            }
        }
        if (!scores) {
            auto prompt = prompt_tokens(piece);
            if (!prompt) return prompt.error();
            const auto t0 = std::chrono::steady_clock::now();
            auto s = engine::score_options(session_->context(), *prompt, options);
            model_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            session_->forget();
            if (!s) return s.error();
            tokens_in_ += prompt->size();
            scores = std::move(s.value());
            if (chunks.size() > 1 && memo_ && memo_->put) memo_->put(step, ojson(*scores).dump());
        }
        per_chunk.push_back(std::move(*scores));
    }
    const std::vector<double> p = combine_label_scores(per_chunk);
    const size_t arg = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    ojson probs = ojson::object();
    for (size_t i = 0; i < options.size(); ++i) probs[cfg_.labels[i]] = p[i];
    return ojson{{"output", {{"label", cfg_.labels[arg]}, {"confidence", p[arg]}}},
                 {"probabilities", probs},
                 {"chunks", chunks.size()}};
}

Result<ojson> TaskRunner::summarize(const Document& doc) {
    const int out_tokens = std::min(cfg_.max_output_tokens, cfg_.summary_words * 2 + 16);
    auto chunks = chunk_document(doc, tok_, budget_for_document(), 32);
    std::string text;
    size_t rounds = 0;
    if (chunks.size() == 1) {
        auto s = generate(doc.text, out_tokens, nullptr);
        if (!s) return s.error();
        text = *s;
    } else {
        // Map: each chunk summarized; reduce: the summaries joined and summarized again until one
        // prompt holds them.
        std::vector<std::string> parts;
        for (size_t i = 0; i < chunks.size(); ++i) {
            const Chunk& c = chunks[i];
            auto s = generate_step("summarize:" + std::to_string(i), doc.text.substr(c.begin, c.end - c.begin),
                                   out_tokens, nullptr);
            if (!s) return s.error();
            parts.push_back(valid_utf8(*s));
        }
        while (true) {
            ++rounds;
            Document joined;
            for (const auto& p : parts) joined.text += p + "\n\n";
            joined.page_starts = {0};
            const auto groups = chunk_document(joined, tok_, budget_for_document(), 0);
            std::vector<std::string> next;
            for (const Chunk& c : groups) {
                auto s = generate(joined.text.substr(c.begin, c.end - c.begin), out_tokens, nullptr);
                if (!s) return s.error();
                next.push_back(*s);
            }
            parts = std::move(next);
            if (parts.size() == 1) break;
            if (rounds == 8)
                return Error{"the partial summaries still fill " + std::to_string(parts.size()) +
                             " prompts after 8 rounds of reducing"};
        }
        text = parts[0];
    }
    // Only a summary the model ended itself is a result: one the token limit cut off, or an
    // empty one, is reported, never passed on as the document's summary.
    const bool cut_off = last_stop_ == engine::StopReason::Length || last_stop_ == engine::StopReason::Context;
    // A model may stop inside a character (or, random weights, write bytes that are none): the
    // summary is text, so invalid sequences become U+FFFD rather than break the JSON result.
    text = valid_utf8(text);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
    if (cut_off) {
        return Error{"the summary was cut off at the token limit (" + std::to_string(out_tokens) +
                     " tokens for --words " + std::to_string(cfg_.summary_words) +
                     "; raise --max-output or ask for fewer words)"};
    }
    if (text.empty()) return Error{"the model wrote an empty summary"};
    return ojson{{"output", {{"summary", text}}}, {"chunks", chunks.size()}, {"reduce_rounds", rounds}};
}

Result<ojson> TaskRunner::run(const Document& doc, const StepMemo* memo) {
    struct Scope {
        const StepMemo*& m;
        ~Scope() { m = nullptr; }
    } scope{memo_ = memo};
    if (cfg_.kind == "extract") return extract(doc);
    if (cfg_.kind == "classify") return classify(doc);
    if (cfg_.kind == "summarize") return summarize(doc);
    return Error{"unknown task '" + cfg_.kind + "'"};
}

}  // namespace tf::pipeline
