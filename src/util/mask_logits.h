// Applying a token mask to a logit vector: every logit whose bit is clear becomes -infinity.
// Structured output does this once per generated token over the whole vocabulary (128k floats
// for Llama 3), so it is vectorized; a select changes no value, so every path gives the same
// bits. (In util/ because the grammar layer needs it and sits beside, not above, kernels/.)
#pragma once

#include <cstdint>

namespace tf {

// logits[i] = -inf where bit i % 64 of allowed[i / 64] is 0; n logits, (n + 63) / 64 words.
void mask_logits(float* logits, int64_t n, const uint64_t* allowed);

namespace scalar {
void mask_logits(float* logits, int64_t n, const uint64_t* allowed);
}

}  // namespace tf
