#include "engine/jump_forward.h"

#include <string>

namespace tf::engine {

std::vector<int32_t> jump_forward_tokens(sampling::Constraint& constraint, const tok::Tokenizer& tokenizer, size_t room) {
    const std::string forced = constraint.forced_text(256);
    if (forced.empty() || room == 0) return {};
    std::vector<int32_t> ids = tokenizer.encode(forced, false, false);
    std::string spelled;
    for (int32_t t : ids) spelled += tokenizer.token_to_piece(t, false);
    if (spelled != forced || ids.size() > room) return {};
    return ids;
}

}  // namespace tf::engine
