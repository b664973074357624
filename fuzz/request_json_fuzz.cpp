// libFuzzer target for a request body as any client may send it: parsed with its shape bounded
// (keys per object, nesting depth) before the document is built; it is a JSON object, or a
// clear refusal, and never a crash, a stack overflow or a runaway allocation.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/request_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto body = tf::api::parse_request(std::string_view(reinterpret_cast<const char*>(data), size));
    if (body && !body->is_object()) std::abort();  // only objects are accepted
    if (!body && body.error().message.empty()) std::abort();
    if (body) tf::api::ensure_seed(*body);
    return 0;
}
