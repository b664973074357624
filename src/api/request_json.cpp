#include "api/request_json.h"

#include <random>
#include <vector>

namespace tf::api {

namespace {

using ojson = nlohmann::ordered_json;

class ShapeCheck : public nlohmann::json_sax<ojson> {
  public:
    std::string problem;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return open(); }
    bool key(string_t&) override {
        if (++keys_.back() > kMaxJsonKeys)
            return fail("an object in the request has more than " + std::to_string(kMaxJsonKeys) + " keys");
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  private:
    bool open() {
        keys_.push_back(0);
        if (keys_.size() > kMaxJsonDepth)
            return fail("the request's JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        return true;
    }
    bool close() {
        keys_.pop_back();
        return true;
    }
    bool fail(std::string why) {
        problem = std::move(why);
        return false;
    }
    std::vector<size_t> keys_;
};

}  // namespace

Result<ojson> parse_request(std::string_view body) {
    ShapeCheck shape;
    const bool well_formed = ojson::sax_parse(body, &shape, nlohmann::detail::input_format_t::json, false);
    if (!shape.problem.empty()) return Error{ErrorKind::TooLarge, shape.problem, ""};
    const Error not_object = bad_request("the request body is not a JSON object");
    if (!well_formed) return not_object;
    ojson out = ojson::parse(body, nullptr, false);
    if (out.is_discarded() || !out.is_object()) return not_object;
    return out;
}

uint64_t fresh_seed() {
    static thread_local std::random_device rd;
    return ((static_cast<uint64_t>(rd()) << 32) ^ rd()) & ((uint64_t{1} << 53) - 1);
}

void ensure_seed(ojson& body) {
    if (!body.contains("seed") || body["seed"].is_null()) body["seed"] = fresh_seed();
}

void ensure_ollama_seed(ojson& body) {
    if (!body.contains("options") || !body["options"].is_object()) body["options"] = ojson::object();
    if (!body["options"].contains("seed") || body["options"]["seed"].is_null()) body["options"]["seed"] = fresh_seed();
}

}  // namespace tf::api
