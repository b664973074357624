#include "hub/name.h"

#include <algorithm>
#include <vector>

namespace tf::hub {

namespace {

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

// One path component: a store directory name, so no "." / ".." and no hidden files.
Status check_part(std::string_view part, std::string_view what) {
    if (part.empty()) return Error{std::string(what) + " is empty"};
    if (part.size() > 128) return Error{std::string(what) + " is longer than 128 characters"};
    if (part == "." || part == "..") return Error{std::string(what) + " may not be '" + std::string(part) + "'"};
    if (part[0] == '.' || part[0] == '-')
        return Error{std::string(what) + " '" + std::string(part) + "' may not start with '" + part[0] + "'"};
    for (char c : part) {
        if (!name_char(c))
            return Error{std::string(what) + " '" + std::string(part) +
                         "' has a character other than letters, digits, '.', '_' and '-'"};
    }
    return {};
}

Status check_host(std::string_view host) {
    const size_t colon = host.find(':');
    auto st = check_part(host.substr(0, colon), "the registry host");
    if (!st) return st;
    if (host.substr(0, colon).find('_') != std::string_view::npos)
        return Error{"the registry host '" + std::string(host) + "' has a '_'"};
    if (colon != std::string_view::npos) {
        const std::string_view port = host.substr(colon + 1);
        if (port.empty() || port.size() > 5 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return Error{"the registry host '" + std::string(host) + "' has a port that is not a number"};
    }
    return {};
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        const size_t p = s.find(sep, start);
        out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
        if (p == std::string_view::npos) return out;
        start = p + 1;
    }
}

bool ends_with_gguf(std::string_view s) {
    if (s.size() < 5) return false;
    std::string tail(s.substr(s.size() - 5));
    std::transform(tail.begin(), tail.end(), tail.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return tail == ".gguf";
}

bool looks_like_host(std::string_view s) {
    return s.find('.') != std::string_view::npos || s.find(':') != std::string_view::npos || s == "localhost";
}

}  // namespace

std::string ModelName::canonical() const {
    std::string s = host + "/" + namespace_ + "/" + repo;
    if (!file.empty()) return s + "/" + file;
    return s + ":" + tag;
}

std::string ModelName::display() const {
    if (source == Source::Ollama && host == kDefaultRegistry) {
        return (namespace_ == "library" ? "" : namespace_ + "/") + repo + ":" + tag;
    }
    return canonical();
}

std::string ModelName::manifest_path() const {
    std::string h = host;
    std::replace(h.begin(), h.end(), ':', '_');  // "127.0.0.1_8080": a port never needs a ':' on disk
    std::string s = h + "/" + namespace_ + "/" + repo;
    return file.empty() ? s + "/" + tag : s + "/" + file;
}

Result<ModelName> parse_model_name(std::string_view text) {
    const std::string quoted = "model name '" + std::string(text.substr(0, 200)) + "'";
    auto fail = [&](const std::string& why) -> Result<ModelName> { return Error{quoted + ": " + why}; };
    if (text.empty()) return fail("empty");
    if (text.size() > 512) return fail("longer than 512 characters");
    for (char c : text) {
        if (!name_char(c) && c != '/' && c != ':')
            return fail(std::string("a name has only letters, digits and . _ - / : (found ") +
                        (static_cast<unsigned char>(c) < 0x20 ? "a control character" : "'" + std::string(1, c) + "'") +
                        ")");
    }
    if (text.front() == '/') return fail("an absolute path is not a model name (give it with -m as a file)");

    ModelName n;
    n.tag = "latest";
    std::string_view rest = text;
    for (std::string_view prefix : {"hf.co/", "huggingface.co/", "https://huggingface.co/", "https://hf.co/"}) {
        if (rest.substr(0, prefix.size()) == prefix) {
            n.source = Source::HuggingFace;
            rest.remove_prefix(prefix.size());
            break;
        }
    }
    auto parts = split(rest, '/');
    if (n.source != Source::HuggingFace && parts.size() == 3 && ends_with_gguf(parts[2]))
        n.source = Source::HuggingFace;

    if (n.source == Source::HuggingFace) {
        n.host = std::string(kHuggingFaceHost);
        if (parts.size() != 2 && parts.size() != 3)
            return fail("a Hugging Face name is hf.co/ORG/REPO[:QUANT] or ORG/REPO/FILE.gguf");
        n.namespace_ = std::string(parts[0]);
        std::string_view repo = parts[1];
        if (parts.size() == 3) {
            if (!ends_with_gguf(parts[2])) return fail("the file of ORG/REPO/FILE must be a .gguf file");
            n.file = std::string(parts[2]);
            if (auto st = check_part(n.file, "the file name"); !st) return fail(st.error().message);
        } else if (const size_t colon = repo.find(':'); colon != std::string_view::npos) {
            n.tag = std::string(repo.substr(colon + 1));
            repo = repo.substr(0, colon);
        }
        n.repo = std::string(repo);
        if (auto st = check_part(n.namespace_, "the organisation"); !st) return fail(st.error().message);
        if (auto st = check_part(n.repo, "the repository"); !st) return fail(st.error().message);
        if (auto st = check_part(n.tag, "the quantization tag"); !st) return fail(st.error().message);
        return n;
    }

    n.source = Source::Ollama;
    std::string_view last = parts.back();
    if (const size_t colon = last.find(':'); colon != std::string_view::npos) {
        n.tag = std::string(last.substr(colon + 1));
        parts.back() = last.substr(0, colon);
    }
    switch (parts.size()) {
        case 1:
            n.host = std::string(kDefaultRegistry);
            n.namespace_ = "library";
            break;
        case 2:
            n.host = std::string(kDefaultRegistry);
            n.namespace_ = std::string(parts[0]);
            break;
        case 3:
            if (!looks_like_host(parts[0]))
                return fail("'" + std::string(parts[0]) + "' is not a registry host (REGISTRY/NAMESPACE/MODEL[:TAG])");
            n.host = std::string(parts[0]);
            n.namespace_ = std::string(parts[1]);
            if (auto st = check_host(n.host); !st) return fail(st.error().message);
            break;
        default:
            return fail("a name has at most three parts: [REGISTRY/][NAMESPACE/]MODEL[:TAG]");
    }
    n.repo = std::string(parts.back());
    if (n.namespace_.find(':') != std::string::npos || n.repo.find(':') != std::string::npos)
        return fail("a ':' separates only the tag at the end");
    if (auto st = check_part(n.namespace_, "the namespace"); !st) return fail(st.error().message);
    if (auto st = check_part(n.repo, "the model"); !st) return fail(st.error().message);
    if (auto st = check_part(n.tag, "the tag"); !st) return fail(st.error().message);
    return n;
}

bool looks_like_path(std::string_view text) {
    if (text.empty()) return false;
    if (text[0] == '/' || text[0] == '.' || text[0] == '~' || text.find('\\') != std::string_view::npos) return true;
    // "model.gguf" or "dir/model.gguf" (but ORG/REPO/FILE.gguf is a Hugging Face name).
    return ends_with_gguf(text) && std::count(text.begin(), text.end(), '/') != 2;
}

}  // namespace tf::hub
