#include "server/params.h"

namespace tf::server {

namespace {

using ojson = nlohmann::ordered_json;

template <typename T>
bool number(const ojson& j, const char* key, T& out, ApiError& err) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_number()) {
        err = {400, std::string("'") + key + "' must be a number", key};
        return false;
    }
    out = it->get<T>();
    return true;
}

bool stops(const ojson& j, const char* key, std::vector<std::string>& out, ApiError& err) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return true;
    if (it->is_string()) {
        out.push_back(it->get<std::string>());
        return true;
    }
    if (it->is_array()) {
        for (const auto& s : *it) {
            if (!s.is_string()) {
                err = {400, std::string("'") + key + "' must be a string or an array of strings", key};
                return false;
            }
            out.push_back(s.get<std::string>());
        }
        return true;
    }
    err = {400, std::string("'") + key + "' must be a string or an array of strings", key};
    return false;
}

}  // namespace

bool openai_options(const ojson& b, int64_t n_vocab, engine::GenerateOptions& o, ApiError& err) {
    auto& s = o.sampling;
    s.temperature = 1.0f;
    s.top_k = 0;
    s.top_p = 1.0f;
    s.min_p = 0.0f;
    o.max_tokens = -1;
    if (!number(b, "temperature", s.temperature, err) || !number(b, "top_p", s.top_p, err) || !number(b, "top_k", s.top_k, err) ||
        !number(b, "min_p", s.min_p, err) || !number(b, "repeat_penalty", s.repeat_penalty, err) ||
        !number(b, "presence_penalty", s.presence_penalty, err) || !number(b, "frequency_penalty", s.frequency_penalty, err) ||
        !number(b, "seed", s.seed, err) || !number(b, "max_tokens", o.max_tokens, err) ||
        !number(b, "max_completion_tokens", o.max_tokens, err) || !stops(b, "stop", o.stop, err)) {
        return false;
    }
    if (s.temperature > 2.0f || s.temperature < 0.0f) {
        err = {400, "'temperature' must be between 0 and 2", "temperature"};
        return false;
    }
    if (o.stop.size() > 16) {
        err = {400, "at most 16 stop sequences", "stop"};
        return false;
    }
    // An extension llama.cpp's server has too (benchmarks want fixed-length answers).
    if (auto it = b.find("ignore_eos"); it != b.end() && !it->is_null()) {
        if (!it->is_boolean()) {
            err = {400, "'ignore_eos' must be a boolean", "ignore_eos"};
            return false;
        }
        o.ignore_eos = it->get<bool>();
    }
    if (auto it = b.find("logit_bias"); it != b.end() && !it->is_null()) {
        if (!it->is_object()) {
            err = {400, "'logit_bias' must map token ids to numbers", "logit_bias"};
            return false;
        }
        for (auto e = it->begin(); e != it->end(); ++e) {
            try {
                if (!e->is_number()) throw std::invalid_argument("bias");
                s.logit_bias.push_back({static_cast<int32_t>(std::stol(e.key())), e->get<float>()});
            } catch (const std::exception&) {
                err = {400, "'logit_bias' entry '" + e.key() + "' is not token id → number", "logit_bias"};
                return false;
            }
        }
    }
    if (Status st = s.validate(n_vocab); !st) {
        err = {400, st.error().message, ""};
        return false;
    }
    return true;
}

bool ollama_options(const ojson& opt, int64_t n_vocab, engine::GenerateOptions& o, ApiError& err) {
    auto& s = o.sampling;
    s.temperature = 0.8f;
    s.top_k = 40;
    s.top_p = 0.9f;
    s.min_p = 0.0f;
    s.repeat_penalty = 1.1f;
    o.max_tokens = -1;
    if (opt.is_null()) return s.validate(n_vocab).ok();
    if (!opt.is_object()) {
        err = {400, "'options' must be an object", "options"};
        return false;
    }
    if (!number(opt, "temperature", s.temperature, err) || !number(opt, "top_k", s.top_k, err) || !number(opt, "top_p", s.top_p, err) ||
        !number(opt, "min_p", s.min_p, err) || !number(opt, "typical_p", s.typical_p, err) ||
        !number(opt, "repeat_penalty", s.repeat_penalty, err) || !number(opt, "repeat_last_n", s.repeat_last_n, err) ||
        !number(opt, "presence_penalty", s.presence_penalty, err) || !number(opt, "frequency_penalty", s.frequency_penalty, err) ||
        !number(opt, "seed", s.seed, err) || !number(opt, "num_predict", o.max_tokens, err) || !stops(opt, "stop", o.stop, err)) {
        return false;
    }
    if (Status st = s.validate(n_vocab); !st) {
        err = {400, st.error().message, "options"};
        return false;
    }
    return true;
}

}  // namespace tf::server
