// Jump-forward: where the grammar admits a single continuation (the rest of a key, `": "`), its
// tokens are appended without sampling. Shared by Session and the server's Scheduler so that a
// request gives the same tokens through either.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace tf::engine {

// The constraint's only continuation (at most 256 bytes) tokenized on its own — kept only if
// those tokens spell exactly its bytes and there are at most `room` of them; otherwise none.
std::vector<int32_t> jump_forward_tokens(sampling::Constraint& constraint, const tok::Tokenizer& tokenizer, size_t room);

}  // namespace tf::engine
