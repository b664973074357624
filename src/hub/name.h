// Model names: what a user types after `pull`, `-m` or "model" — parsed into where the model
// comes from and the one canonical name it is stored under. A name never reaches the file
// system unchecked: every part is drawn from a small alphabet, so "../../etc/passwd" or an
// absolute path is refused here, before any store or network code sees it.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace tf::hub {

enum class Source {
    HuggingFace,  // hf.co/ORG/REPO[:QUANT] or ORG/REPO/FILE.gguf
    Ollama,       // [REGISTRY/][NAMESPACE/]MODEL[:TAG]
};

struct ModelName {
    Source source = Source::Ollama;
    std::string host;        // "hf.co", "registry.ollama.ai", "127.0.0.1:8080"
    std::string namespace_;  // HF organisation, Ollama namespace ("library")
    std::string repo;        // HF repository, Ollama model
    std::string file;        // HF: one file named explicitly (ORG/REPO/FILE.gguf); else empty
    std::string tag;         // HF: quantization ("latest": the default choice); Ollama: tag

    // "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "registry.ollama.ai/library/llama3.2:1b".
    std::string canonical() const;
    // As Ollama prints names: the default registry and namespace left out ("llama3.2:1b").
    std::string display() const;
    // Relative path of its manifest in the store: host/namespace/repo[/file]/tag.
    std::string manifest_path() const;
};

// Parses a model name. Errors say what is wrong with it ("a name part may not be '..'").
Result<ModelName> parse_model_name(std::string_view text);

// Whether text could be a model name rather than a file path a user meant (for -m: a path that
// does not exist but looks like one gets "no such file", not "no such model").
bool looks_like_path(std::string_view text);

constexpr std::string_view kDefaultRegistry = "registry.ollama.ai";
constexpr std::string_view kHuggingFaceHost = "hf.co";

}  // namespace tf::hub
