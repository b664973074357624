// GGUF key names, in one place. Architecture-scoped keys are patterns: arch_key(kContextLength, "llama")
// gives "llama.context_length".
#pragma once

#include <string>
#include <string_view>

namespace tf::gguf::keys {

inline constexpr std::string_view kArchitecture = "general.architecture";
inline constexpr std::string_view kName = "general.name";
inline constexpr std::string_view kAlignment = "general.alignment";
inline constexpr std::string_view kFileType = "general.file_type";
inline constexpr std::string_view kQuantizationVersion = "general.quantization_version";

inline constexpr std::string_view kContextLength = "%s.context_length";
inline constexpr std::string_view kEmbeddingLength = "%s.embedding_length";
inline constexpr std::string_view kBlockCount = "%s.block_count";
inline constexpr std::string_view kFeedForwardLength = "%s.feed_forward_length";
inline constexpr std::string_view kVocabSize = "%s.vocab_size";
inline constexpr std::string_view kExpertCount = "%s.expert_count";
inline constexpr std::string_view kExpertUsedCount = "%s.expert_used_count";
inline constexpr std::string_view kExpertFeedForwardLength = "%s.expert_feed_forward_length";
inline constexpr std::string_view kAttnLogitSoftcapping = "%s.attn_logit_softcapping";
inline constexpr std::string_view kFinalLogitSoftcapping = "%s.final_logit_softcapping";

inline constexpr std::string_view kHeadCount = "%s.attention.head_count";
inline constexpr std::string_view kHeadCountKv = "%s.attention.head_count_kv";
inline constexpr std::string_view kKeyLength = "%s.attention.key_length";
inline constexpr std::string_view kValueLength = "%s.attention.value_length";
inline constexpr std::string_view kLayerNormRmsEpsilon = "%s.attention.layer_norm_rms_epsilon";
inline constexpr std::string_view kLayerNormEpsilon = "%s.attention.layer_norm_epsilon";
inline constexpr std::string_view kSlidingWindow = "%s.attention.sliding_window";
inline constexpr std::string_view kSlidingWindowPattern = "%s.attention.sliding_window_pattern";
inline constexpr std::string_view kCausal = "%s.attention.causal";

inline constexpr std::string_view kRopeDimensionCount = "%s.rope.dimension_count";
inline constexpr std::string_view kRopeFreqBase = "%s.rope.freq_base";
inline constexpr std::string_view kRopeFreqBaseSwa = "%s.rope.freq_base_swa";
inline constexpr std::string_view kRopeScalingType = "%s.rope.scaling.type";
inline constexpr std::string_view kRopeScalingFactor = "%s.rope.scaling.factor";
inline constexpr std::string_view kRopeScaleLinear = "%s.rope.scale_linear";
inline constexpr std::string_view kRopeScalingOrigCtx = "%s.rope.scaling.original_context_length";
inline constexpr std::string_view kRopeScalingAttnFactor = "%s.rope.scaling.attn_factor";

inline constexpr std::string_view kTokenizerModel = "tokenizer.ggml.model";
inline constexpr std::string_view kTokenizerPre = "tokenizer.ggml.pre";
inline constexpr std::string_view kTokens = "tokenizer.ggml.tokens";
inline constexpr std::string_view kScores = "tokenizer.ggml.scores";
inline constexpr std::string_view kTokenType = "tokenizer.ggml.token_type";
inline constexpr std::string_view kMerges = "tokenizer.ggml.merges";
inline constexpr std::string_view kBosTokenId = "tokenizer.ggml.bos_token_id";
inline constexpr std::string_view kEosTokenId = "tokenizer.ggml.eos_token_id";
inline constexpr std::string_view kUnknownTokenId = "tokenizer.ggml.unknown_token_id";
inline constexpr std::string_view kPaddingTokenId = "tokenizer.ggml.padding_token_id";
inline constexpr std::string_view kAddBosToken = "tokenizer.ggml.add_bos_token";
inline constexpr std::string_view kAddEosToken = "tokenizer.ggml.add_eos_token";
inline constexpr std::string_view kChatTemplate = "tokenizer.chat_template";

inline std::string arch_key(std::string_view pattern, std::string_view arch) {
    std::string out(pattern);
    if (auto p = out.find("%s"); p != std::string::npos) out.replace(p, 2, arch);
    return out;
}

}  // namespace tf::gguf::keys
