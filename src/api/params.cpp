#include "api/params.h"

namespace tf::api {

namespace {

using ojson = nlohmann::ordered_json;

template <typename T>
Status number(const ojson& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_number()) return bad_request(std::string("'") + key + "' must be a number", key);
    out = it->get<T>();
    return {};
}

Status stops(const ojson& j, const char* key, std::vector<std::string>& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    const Error wrong = bad_request(std::string("'") + key + "' must be a string or an array of strings", key);
    if (it->is_string()) {
        out.push_back(it->get<std::string>());
        return {};
    }
    if (!it->is_array()) return wrong;
    for (const auto& s : *it) {
        if (!s.is_string()) return wrong;
        out.push_back(s.get<std::string>());
    }
    return {};
}

// The first failure of a list of field checks, in order.
Status first_failure(std::initializer_list<Status> checks) {
    for (const Status& s : checks)
        if (!s) return s;
    return {};
}

}  // namespace

Status openai_options(const ojson& b, int64_t n_vocab, engine::GenerateOptions& o) {
    auto& s = o.sampling;
    s.temperature = 1.0f;
    s.top_k = 0;
    s.top_p = 1.0f;
    s.min_p = 0.0f;
    o.max_tokens = -1;
    if (Status st = first_failure(
            {number(b, "temperature", s.temperature), number(b, "top_p", s.top_p), number(b, "top_k", s.top_k),
             number(b, "min_p", s.min_p), number(b, "repeat_penalty", s.repeat_penalty),
             number(b, "presence_penalty", s.presence_penalty), number(b, "frequency_penalty", s.frequency_penalty),
             number(b, "seed", s.seed), number(b, "max_tokens", o.max_tokens),
             number(b, "max_completion_tokens", o.max_tokens), stops(b, "stop", o.stop)});
        !st)
        return st;
    if (s.temperature > 2.0f || s.temperature < 0.0f)
        return bad_request("'temperature' must be between 0 and 2", "temperature");
    if (o.stop.size() > 16) return bad_request("at most 16 stop sequences", "stop");
    // An extension llama.cpp's server has too (benchmarks want fixed-length answers).
    if (auto it = b.find("ignore_eos"); it != b.end() && !it->is_null()) {
        if (!it->is_boolean()) return bad_request("'ignore_eos' must be a boolean", "ignore_eos");
        o.ignore_eos = it->get<bool>();
    }
    if (auto it = b.find("logit_bias"); it != b.end() && !it->is_null()) {
        if (!it->is_object()) return bad_request("'logit_bias' must map token ids to numbers", "logit_bias");
        for (auto e = it->begin(); e != it->end(); ++e) {
            try {
                if (!e->is_number()) throw std::invalid_argument("bias");
                s.logit_bias.push_back({static_cast<int32_t>(std::stol(e.key())), e->get<float>()});
            } catch (const std::exception&) {
                return bad_request("'logit_bias' entry '" + e.key() + "' is not token id → number", "logit_bias");
            }
        }
    }
    if (tf::Status st = s.validate(n_vocab); !st) return from_engine(st.error());
    return {};
}

Status ollama_options(const ojson& opt, int64_t n_vocab, engine::GenerateOptions& o) {
    auto& s = o.sampling;
    s.temperature = 0.8f;
    s.top_k = 40;
    s.top_p = 0.9f;
    s.min_p = 0.0f;
    s.repeat_penalty = 1.1f;
    o.max_tokens = -1;
    if (opt.is_null()) return {};
    if (!opt.is_object()) return bad_request("'options' must be an object", "options");
    if (Status st = first_failure(
            {number(opt, "temperature", s.temperature), number(opt, "top_k", s.top_k), number(opt, "top_p", s.top_p),
             number(opt, "min_p", s.min_p), number(opt, "typical_p", s.typical_p),
             number(opt, "repeat_penalty", s.repeat_penalty), number(opt, "repeat_last_n", s.repeat_last_n),
             number(opt, "presence_penalty", s.presence_penalty), number(opt, "frequency_penalty", s.frequency_penalty),
             number(opt, "seed", s.seed), number(opt, "num_predict", o.max_tokens), stops(opt, "stop", o.stop)});
        !st)
        return st;
    if (tf::Status st = s.validate(n_vocab); !st) return from_engine(st.error(), "options");
    return {};
}

Status stop_option(const ojson& object, std::vector<std::string>& out) {
    return stops(object, "stop", out);
}

}  // namespace tf::api
