#include "hub/pull.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "gguf/file.h"
#include "util/sha256.h"

namespace tf::hub {

namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string basename_of(const std::string& p) {
    const size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

// Percent-encodes a path for a URL, keeping '/'.
std::string url_path(const std::string& p) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : p) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// Whether the tag appears in the file name as a whole token: "Q4_K" is not in "x-Q4_K_M.gguf".
bool has_tag(const std::string& file, const std::string& tag) {
    const std::string f = lower(basename_of(file)), t = lower(tag);
    auto boundary = [](char c) { return c == '-' || c == '.'; };
    for (size_t pos = f.find(t); pos != std::string::npos; pos = f.find(t, pos + 1)) {
        const bool left = pos == 0 || boundary(f[pos - 1]);
        const size_t end = pos + t.size();
        const bool right = end == f.size() || boundary(f[end]);
        if (left && right) return true;
    }
    return false;
}

bool is_gguf(const std::string& p) {
    return p.size() > 5 && lower(p.substr(p.size() - 5)) == ".gguf";
}

// The quantization label of a file name, for messages ("Q4_K_M").
std::string quant_of(const std::string& file) {
    std::string b = basename_of(file);
    if (auto s = gguf::split_part_path(b, 1, 1)) b = b.substr(0, b.size() - 5 - 15) + ".gguf";
    b = b.substr(0, b.size() - 5);
    const size_t cut = b.find_last_of("-.");
    return cut == std::string::npos ? b : b.substr(cut + 1);
}

std::string hf_endpoint() {
    std::string e = "https://huggingface.co";
    if (const char* v = std::getenv("HF_ENDPOINT"); v && *v) e = v;
    while (!e.empty() && e.back() == '/') e.pop_back();
    return e;
}

std::string hf_token() {
    for (const char* k : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
        if (const char* v = std::getenv(k); v && *v) return v;
    }
    return "";
}

// The next page's URL from a Link header (RFC 8288): <url>; rel="next".
std::string next_link(const std::map<std::string, std::string>& headers) {
    auto it = headers.find("link");
    if (it == headers.end()) return "";
    const std::string& v = it->second;
    for (size_t start = 0; start < v.size();) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        const std::string part = v.substr(start, end - start);
        if (part.find("rel=\"next\"") != std::string::npos) {
            const size_t a = part.find('<'), b = part.find('>');
            if (a != std::string::npos && b != std::string::npos && b > a) return part.substr(a + 1, b - a - 1);
        }
        start = end + 1;
    }
    return "";
}

struct RemoteFile {
    std::string path, digest;
    uint64_t size = 0;
};

Status check_gguf(Store& store, const Manifest& m, const std::string& what) {
    // Open the way every command will: the split parts by their names.
    std::string path = store.blob_path(m.files[0].digest);
    if (m.files.size() > 1) {
        const std::string dir = store.root() + "/views/.check-" + std::to_string(::getpid());
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        for (const auto& f : m.files)
            std::filesystem::create_symlink(store.blob_path(f.digest), dir + "/" + f.name, ec);
        auto file = gguf::File::open(dir + "/" + m.files[0].name);
        std::filesystem::remove_all(dir, ec);
        if (!file) return Error{what + ": not a usable GGUF model: " + file.error().message};
        return {};
    }
    auto file = gguf::File::open(path);
    if (!file) return Error{what + ": not a usable GGUF model: " + file.error().message};
    return {};
}

void drop_unreferenced(Store& store, const Manifest& m) {
    std::vector<Manifest> all = store.list();
    for (const auto& f : m.files) {
        bool used = false;
        for (const auto& other : all)
            for (const auto& g : other.files) used = used || g.digest == f.digest;
        if (!used) ::unlink(store.blob_path(f.digest).c_str());
    }
}

Result<Manifest> pull_hf(const ModelName& n, Store& store, const PullOptions& opt, const PullProgress& progress) {
    const std::string endpoint = hf_endpoint();
    HttpOptions http = opt.http;
    if (const std::string tok = hf_token(); !tok.empty()) http.headers.push_back("Authorization: Bearer " + tok);
    const std::string repo = n.namespace_ + "/" + n.repo;
    if (progress) progress({"pulling manifest"});

    std::vector<RemoteFile> files;
    std::string url = endpoint + "/api/models/" + url_path(repo) + "/tree/main?recursive=true";
    for (int page = 0; !url.empty(); ++page) {
        if (page >= 100) return Error{repo + ": more than 100 pages of files"};
        auto r = http_get(url, http);
        if (!r) return r.error();
        if (r->status == 401 || r->status == 403)
            return Error{"hf.co/" + repo + " is gated or private (HTTP " + std::to_string(r->status) + "): " +
                         (hf_token().empty()
                              ? "set HF_TOKEN to a token of an account that accepted its licence"
                              : "the token in HF_TOKEN has no access to it (accept its licence on the hub)")};
        if (r->status == 404) return Error{"hf.co/" + repo + ": no such repository on " + endpoint};
        if (r->status != 200) return Error{url + ": HTTP " + std::to_string(r->status)};
        try {
            for (const auto& e : json::parse(r->body)) {
                if (e.value("type", "") != "file") continue;
                RemoteFile f;
                f.path = e.at("path").get<std::string>();
                f.size = e.value("size", uint64_t(0));
                if (e.contains("lfs") && e["lfs"].is_object()) {
                    f.digest = "sha256:" + e["lfs"].value("oid", std::string());
                    f.size = e["lfs"].value("size", f.size);
                }
                files.push_back(std::move(f));
            }
        } catch (const std::exception& ex) {
            return Error{url + ": not a file listing (" + ex.what() + ")"};
        }
        url = next_link(r->headers);
    }

    std::vector<std::string> chosen;
    if (!n.file.empty()) {
        for (const auto& f : files)
            if (f.path == n.file || basename_of(f.path) == n.file) chosen.push_back(f.path);
        if (chosen.empty()) return Error{"hf.co/" + repo + " has no file " + n.file};
        chosen.resize(1);
        std::vector<std::string> all;
        for (const auto& f : files) all.push_back(f.path);
        auto parts = expand_split(chosen[0], all);
        if (!parts) return Error{"hf.co/" + repo + ": " + parts.error().message};
        chosen = *parts;
    } else {
        std::vector<std::string> paths;
        for (const auto& f : files) paths.push_back(f.path);
        auto c = choose_gguf_files(paths, n.tag);
        if (!c) return Error{"hf.co/" + repo + ": " + c.error().message};
        chosen = *c;
    }

    Manifest m;
    m.source = endpoint + "/" + repo;
    uint64_t total = 0;
    std::vector<RemoteFile> todo;
    for (const auto& p : chosen) {
        auto it = std::find_if(files.begin(), files.end(), [&](const RemoteFile& f) { return f.path == p; });
        if (it == files.end())
            return Error{"hf.co/" + repo + ": part " + p + " of the split model is missing from the repository"};
        if (!valid_digest(it->digest))
            return Error{"hf.co/" + repo + "/" + p +
                         ": the hub lists no SHA-256 for it (not stored with LFS), so it cannot be verified"};
        todo.push_back(*it);
        total += it->size;
    }
    uint64_t missing = 0;
    for (const auto& f : todo)
        if (!store.has_blob(f.digest, f.size)) missing += f.size;
    if (missing + (uint64_t(64) << 20) > store.free_bytes())
        return Error{"model store " + store.root() + ": " + std::to_string(missing >> 20) + " MiB to download, " +
                     std::to_string(store.free_bytes() >> 20) + " MiB free (nothing was downloaded)"};
    for (const auto& f : todo) {
        const std::string file_url = endpoint + "/" + url_path(repo) + "/resolve/main/" + url_path(f.path);
        PullEvent ev{"pulling " + f.digest.substr(7, 12), f.digest, f.size, 0};
        auto st = download_blob(store, file_url, f.digest, f.size, http, [&](uint64_t done, uint64_t) {
            ev.completed = done;
            if (progress) progress(ev);
        });
        if (!st) return st.error();
        m.files.push_back({basename_of(f.path), f.digest, f.size});
    }
    if (progress) progress({"verifying sha256 digest"});
    if (auto st = check_gguf(store, m, "hf.co/" + repo + "/" + chosen[0]); !st) {
        drop_unreferenced(store, m);
        return st.error();
    }
    if (progress) progress({"writing manifest"});
    if (auto st = store.put(n, m); !st) return st.error();
    if (progress) progress({"success"});
    auto stored = store.find(n);
    if (!stored || !*stored) return Error{"the manifest just written cannot be read back"};
    return **stored;
}

Result<Manifest> pull_ollama(const ModelName& n, Store& store, const PullOptions& opt, const PullProgress& progress) {
    const std::string base =
        std::string(opt.insecure ? "http://" : "https://") + n.host + "/v2/" + n.namespace_ + "/" + n.repo;
    HttpOptions http = opt.http;
    if (progress) progress({"pulling manifest"});
    HttpOptions mh = http;
    mh.headers.push_back("Accept: application/vnd.docker.distribution.manifest.v2+json");
    auto r = http_get(base + "/manifests/" + n.tag, mh, size_t(4) << 20);
    if (!r) return r.error();
    if (r->status == 404) return Error{n.display() + ": no such model or tag on " + n.host};
    if (r->status != 200) return Error{base + "/manifests/" + n.tag + ": HTTP " + std::to_string(r->status)};

    struct Layer {
        std::string media, digest;
        uint64_t size = 0;
    };
    std::vector<Layer> layers;
    try {
        const json j = json::parse(r->body);
        for (const auto& l : j.at("layers"))
            layers.push_back({l.at("mediaType").get<std::string>(), l.at("digest").get<std::string>(),
                              l.at("size").get<uint64_t>()});
    } catch (const std::exception& e) {
        return Error{n.display() + ": the registry's manifest is not what Ollama registries send (" + e.what() + ")"};
    }
    Manifest m;
    m.source = base + ":" + n.tag;
    const Layer* model = nullptr;
    for (const auto& l : layers) {
        if (!valid_digest(l.digest)) return Error{n.display() + ": a layer has digest '" + l.digest + "'"};
        if (l.media == "application/vnd.ollama.image.model") {
            if (model)
                return Error{n.display() + ": more than one model layer (projectors and adapters are not supported)"};
            model = &l;
        }
    }
    if (!model) return Error{n.display() + ": the manifest has no model layer"};
    for (const auto& l : layers) {
        std::string* into = l.media == "application/vnd.ollama.image.template"  ? &m.template_text
                            : l.media == "application/vnd.ollama.image.params"  ? &m.params_json
                            : l.media == "application/vnd.ollama.image.system"  ? &m.system
                            : l.media == "application/vnd.ollama.image.license" ? &m.license
                                                                                : nullptr;
        if (!into) continue;
        if (l.size > (uint64_t(1) << 20))
            return Error{n.display() + ": a " + l.media + " layer of " + std::to_string(l.size) + " bytes"};
        auto b = http_get(base + "/blobs/" + l.digest, http, size_t(1) << 20);
        if (!b) return b.error();
        if (b->status != 200) return Error{base + "/blobs/" + l.digest + ": HTTP " + std::to_string(b->status)};
        if ("sha256:" + sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b->body.data()),
                                                            b->body.size())) !=
            l.digest)
            return Error{base + "/blobs/" + l.digest + ": checksum mismatch"};
        *into = b->body;
    }
    if (!store.has_blob(model->digest, model->size) && model->size + (uint64_t(64) << 20) > store.free_bytes())
        return Error{"model store " + store.root() + ": " + std::to_string(model->size >> 20) + " MiB to download, " +
                     std::to_string(store.free_bytes() >> 20) + " MiB free (nothing was downloaded)"};
    PullEvent ev{"pulling " + model->digest.substr(7, 12), model->digest, model->size, 0};
    auto st = download_blob(store, base + "/blobs/" + model->digest, model->digest, model->size, http,
                            [&](uint64_t done, uint64_t) {
                                ev.completed = done;
                                if (progress) progress(ev);
                            });
    if (!st) return st.error();
    m.files.push_back({n.repo + ".gguf", model->digest, model->size});
    if (progress) progress({"verifying sha256 digest"});
    if (auto c = check_gguf(store, m, n.display()); !c) {
        drop_unreferenced(store, m);
        return c.error();
    }
    if (progress) progress({"writing manifest"});
    if (auto p = store.put(n, m); !p) return p.error();
    if (progress) progress({"success"});
    auto stored = store.find(n);
    if (!stored || !*stored) return Error{"the manifest just written cannot be read back"};
    return **stored;
}

}  // namespace

Result<std::vector<std::string>> expand_split(const std::string& pick, const std::vector<std::string>& paths) {
    if (!gguf::split_part_path(pick, 1, 1)) return std::vector<std::string>{pick};
    const int count = std::atoi(pick.substr(pick.size() - 10, 5).c_str());  // "-00001-of-00003.gguf"
    std::vector<std::string> parts;
    for (int k = 1; k <= count; ++k) {
        const std::string part = *gguf::split_part_path(pick, k, count);
        if (std::find(paths.begin(), paths.end(), part) == paths.end())
            return Error{"part " + std::to_string(k) + " of " + std::to_string(count) + " (" + part + ") is missing"};
        parts.push_back(part);
    }
    return parts;
}

Result<std::vector<std::string>> choose_gguf_files(const std::vector<std::string>& paths, const std::string& tag) {
    std::vector<std::string> ggufs;
    for (const auto& p : paths) {
        if (is_gguf(p) && lower(basename_of(p)).find("mmproj") == std::string::npos) ggufs.push_back(p);
    }
    std::sort(ggufs.begin(), ggufs.end());
    if (ggufs.empty()) return Error{"no GGUF model file in the repository"};
    std::string pick;
    const bool any = lower(tag) == "latest";
    for (const std::string& want :
         any ? std::vector<std::string>{"Q4_K_M", "Q4_0", "Q8_0"} : std::vector<std::string>{tag}) {
        for (const auto& p : ggufs) {
            // A split file's tag is before "-00001-of-0000N".
            std::string probe = p;
            if (auto first = gguf::split_part_path(p, 1, 1)) probe = p.substr(0, p.size() - 5 - 15) + ".gguf";
            if (has_tag(probe, want) || lower(p).find("/" + lower(want) + "/") != std::string::npos) {
                pick = p;
                break;
            }
        }
        if (!pick.empty()) break;
    }
    if (pick.empty() && any) pick = ggufs.front();
    if (pick.empty()) {
        std::vector<std::string> quants;
        for (const auto& p : ggufs) {
            const std::string q = quant_of(p);
            if (std::find(quants.begin(), quants.end(), q) == quants.end()) quants.push_back(q);
        }
        std::string list;
        for (const auto& q : quants) list += (list.empty() ? "" : ", ") + q;
        return Error{"no file for quantization '" + tag + "' (available: " + list + ")"};
    }
    return expand_split(pick, paths);
}

Result<Manifest> pull(const ModelName& name, Store& store, const PullOptions& opt, const PullProgress& progress) {
    if (offline_by_environment())
        return Error{"offline (TERRAFERMA_OFFLINE or HF_HUB_OFFLINE is set): nothing is fetched"};
    return name.source == Source::HuggingFace ? pull_hf(name, store, opt, progress)
                                              : pull_ollama(name, store, opt, progress);
}

}  // namespace tf::hub
