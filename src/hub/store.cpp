#include "hub/store.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "gguf/file.h"
#include "util/sha256.h"

namespace tf::hub {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string unique_suffix() {
    return std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

// Writes text to path by a temporary file, fsync and rename.
Status write_atomically(const fs::path& path, const std::string& text) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return Error{path.parent_path().string() + ": " + ec.message()};
    const fs::path tmp = path.string() + ".tmp-" + unique_suffix();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Error{tmp.string() + ": " + std::strerror(errno)};
    size_t off = 0;
    while (off < text.size()) {
        const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            return Error{tmp.string() + ": " + why};
        }
        off += static_cast<size_t>(n);
    }
    ::fsync(fd);
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp.c_str());
        return Error{path.string() + ": " + why};
    }
    return {};
}

json to_json(const Manifest& m) {
    json j;
    j["schema"] = 1;
    j["name"] = m.name;
    j["source"] = m.source;
    j["created"] = m.created;
    json files = json::array();
    for (const auto& f : m.files) files.push_back({{"name", f.name}, {"digest", f.digest}, {"size", f.size}});
    j["files"] = files;
    if (!m.template_text.empty()) j["template"] = m.template_text;
    if (!m.params_json.empty()) j["params"] = m.params_json;
    if (!m.system.empty()) j["system"] = m.system;
    if (!m.license.empty()) j["license"] = m.license;
    return j;
}

Result<Manifest> from_json(const std::string& text, const std::string& where) {
    try {
        const json j = json::parse(text);
        Manifest m;
        m.name = j.at("name").get<std::string>();
        m.source = j.value("source", "");
        m.created = j.value("created", "");
        for (const auto& f : j.at("files")) {
            StoredFile sf{f.at("name").get<std::string>(), f.at("digest").get<std::string>(),
                          f.at("size").get<uint64_t>()};
            if (!valid_digest(sf.digest)) return Error{where + ": file " + sf.name + " has digest '" + sf.digest + "'"};
            if (sf.name.empty() || sf.name.find('/') != std::string::npos || sf.name[0] == '.')
                return Error{where + ": a file name '" + sf.name + "' that is not a plain file name"};
            m.files.push_back(std::move(sf));
        }
        if (m.files.empty()) return Error{where + ": no files"};
        m.template_text = j.value("template", "");
        m.params_json = j.value("params", "");
        m.system = j.value("system", "");
        m.license = j.value("license", "");
        return m;
    } catch (const std::exception& e) {
        return Error{where + ": not a model manifest (" + e.what() + ")"};
    }
}

// The view directory of a model name with a template of its own.
std::string name_view(const std::string& canonical_name) {
    const auto* p = reinterpret_cast<const uint8_t*>(canonical_name.data());
    return "name-" + sha256_hex(std::span<const uint8_t>(p, canonical_name.size())).substr(0, 32);
}

// Copies src to dst (a new file) while hashing; returns "sha256:<hex>".
Result<std::string> copy_hashing(const std::string& src, const std::string& dst, uint64_t& done, uint64_t total,
                                 const ByteProgress& progress) {
    const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return Error{src + ": " + std::strerror(errno)};
    const int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        ::close(in);
        return Error{dst + ": " + std::strerror(errno)};
    }
    Sha256 h;
    std::vector<uint8_t> buf(size_t(8) << 20);
    std::string failure;
    for (;;) {
        const ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            failure = src + ": " + std::strerror(errno);
            break;
        }
        if (n == 0) break;
        h.update(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
        for (ssize_t off = 0; off < n;) {
            const ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                failure = dst + ": " + std::strerror(errno);
                break;
            }
            off += w;
        }
        if (!failure.empty()) break;
        done += static_cast<uint64_t>(n);
        if (progress) progress(done, total);
    }
    ::close(in);
    if (failure.empty() && ::fsync(out) != 0) failure = dst + ": " + std::strerror(errno);
    ::close(out);
    if (!failure.empty()) {
        ::unlink(dst.c_str());
        return Error{failure};
    }
    return "sha256:" + h.finish_hex();
}

}  // namespace

bool valid_digest(const std::string& d) {
    if (d.size() != 7 + 64 || d.compare(0, 7, "sha256:") != 0) return false;
    return std::all_of(d.begin() + 7, d.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

uint64_t Manifest::total_size() const {
    uint64_t n = 0;
    for (const auto& f : files) n += f.size;
    return n;
}

std::string Store::default_root() {
    if (const char* e = std::getenv("TERRAFERMA_MODELS"); e && *e) return e;
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x && x[0] == '/')
        return std::string(x) + "/terraferma/models";
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/tmp") + "/.local/share/terraferma/models";
}

Result<Store> Store::open(const std::string& root) {
    Store s;
    s.root_ = root.empty() ? default_root() : root;
    std::error_code ec;
    for (const char* sub : {"blobs", "manifests", "views"}) {
        fs::create_directories(fs::path(s.root_) / sub, ec);
        if (ec) return Error{"model store " + s.root_ + ": cannot create " + sub + "/: " + ec.message()};
    }
    return s;
}

std::string Store::blob_path(const std::string& digest) const {
    std::string d = digest;
    if (const size_t c = d.find(':'); c != std::string::npos) d[c] = '-';
    return root_ + "/blobs/" + d;
}

std::string Store::partial_path(const std::string& digest) const {
    return blob_path(digest) + ".partial";
}

bool Store::has_blob(const std::string& digest, uint64_t size) const {
    std::error_code ec;
    const auto n = fs::file_size(blob_path(digest), ec);
    return !ec && n == size;
}

std::string Store::manifest_file(const ModelName& name) const {
    return root_ + "/manifests/" + name.manifest_path() + ".json";
}

Result<std::optional<Manifest>> Store::find(const ModelName& name) const {
    const std::string path = manifest_file(name);
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::optional<Manifest>{};
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto m = from_json(text, path);
    if (!m) return m.error();
    return std::optional<Manifest>(std::move(*m));
}

std::vector<Manifest> Store::list(std::vector<std::string>* problems) const {
    std::vector<Manifest> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_ + "/manifests", ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file() || it->path().extension() != ".json") continue;
        std::ifstream in(it->path(), std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto m = from_json(text, it->path().string());
        if (!m) {
            if (problems) problems->push_back(m.error().message);
            continue;
        }
        out.push_back(std::move(*m));
    }
    std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) { return a.name < b.name; });
    return out;
}

Status Store::put(const ModelName& name, Manifest m) {
    for (const auto& f : m.files) {
        if (!has_blob(f.digest, f.size))
            return Error{"model store: " + f.name + " (" + f.digest + ") is not in the store"};
    }
    m.name = name.canonical();
    if (m.created.empty()) m.created = now_utc();
    return write_atomically(manifest_file(name), to_json(m).dump(2) + "\n");
}

Result<uint64_t> Store::remove(const ModelName& name) {
    auto m = find(name);
    if (!m) return m.error();
    if (!*m) return Error{name.display() + ": no such model in " + root_};
    std::error_code ec;
    const std::string path = manifest_file(name);
    if (!fs::remove(path, ec) || ec) return Error{path + ": " + (ec ? ec.message() : "cannot remove")};
    // Empty directories up to manifests/ go too, so list() and the tree stay clean.
    for (fs::path dir = fs::path(path).parent_path(); dir != fs::path(root_ + "/manifests") && fs::is_empty(dir, ec);
         dir = dir.parent_path())
        fs::remove(dir, ec);
    uint64_t before = 0, after = 0;
    for (const auto& f : (*m)->files) before += fs::exists(blob_path(f.digest)) ? f.size : 0;
    collect_garbage();
    for (const auto& f : (*m)->files) after += fs::exists(blob_path(f.digest)) ? f.size : 0;
    return before - after;
}

Status Store::copy(const ModelName& from, const ModelName& to) {
    auto m = find(from);
    if (!m) return m.error();
    if (!*m) return Error{from.display() + ": no such model in " + root_};
    Manifest c = **m;
    c.created.clear();
    c.source = (*m)->source;
    return put(to, std::move(c));
}

Result<std::string> Store::resolve(const ModelName& name) const {
    auto m = find(name);
    if (!m) return m.error();
    if (!*m)
        return Error{name.display() + ": no such model in the store " + root_ +
                     " (see 'terraferma list'; 'terraferma pull " + name.display() + "' fetches it)"};
    const Manifest& man = **m;
    for (const auto& f : man.files) {
        if (!has_blob(f.digest, f.size))
            return Error{name.display() + ": its file " + f.name +
                         " is missing from the store (pull or import it again)"};
    }
    // A name with a template of its own gets a path of its own (a view), so that the path tells
    // which template renders it (registry_template_for) even when other names share the blob.
    const bool own_path = !man.template_text.empty();
    if (man.files.size() == 1 && !own_path) return blob_path(man.files[0].digest);
    // A split model: the loader finds the parts by their names, so give them their names.
    const fs::path view = fs::path(root_) / "views" / (own_path ? name_view(man.name) : man.files[0].digest.substr(7));
    std::error_code ec;
    fs::create_directories(view, ec);
    if (ec) return Error{view.string() + ": " + ec.message()};
    for (const auto& f : man.files) {
        const fs::path link = view / f.name;
        const fs::path target = fs::path("../../blobs") / fs::path(blob_path(f.digest)).filename();
        if (fs::read_symlink(link, ec) == target) continue;
        const fs::path tmp = view / (".tmp-" + unique_suffix());
        fs::create_symlink(target, tmp, ec);
        if (!ec) fs::rename(tmp, link, ec);
        if (ec) return Error{link.string() + ": " + ec.message()};
    }
    return (view / man.files[0].name).string();
}

Result<Manifest> Store::import_file(const std::string& path, const ModelName& name, const ByteProgress& progress) {
    // Validate it as a model first: a store holds GGUFs, and a split model must be complete.
    auto file = gguf::File::open(path);
    if (!file) return file.error();
    std::vector<std::string> paths{path};
    const int64_t count = file->get_int("split.count").value_or(1);
    for (int k = 2; k <= count; ++k) paths.push_back(*gguf::split_part_path(path, k, static_cast<int>(count)));
    const uint64_t total = file->total_size();
    if (free_bytes() < total + (uint64_t(64) << 20))
        return Error{"model store " + root_ + ": " + std::to_string(total >> 20) + " MiB needed, " +
                     std::to_string(free_bytes() >> 20) + " MiB free"};
    Manifest m;
    m.source = "import " + fs::absolute(path).string();
    uint64_t done = 0;
    for (const auto& p : paths) {
        const std::string tmp = root_ + "/blobs/import-" + unique_suffix() + ".partial";
        auto digest = copy_hashing(p, tmp, done, total, progress);
        if (!digest) return digest.error();
        if (::rename(tmp.c_str(), blob_path(*digest).c_str()) != 0) {
            ::unlink(tmp.c_str());
            return Error{blob_path(*digest) + ": " + std::strerror(errno)};
        }
        m.files.push_back(
            {fs::path(p).filename().string(), *digest, static_cast<uint64_t>(fs::file_size(blob_path(*digest)))});
    }
    if (auto st = put(name, m); !st) return st.error();
    auto stored = find(name);
    if (!stored || !*stored) return Error{"model store: the manifest just written cannot be read back"};
    return **stored;
}

uint64_t Store::free_bytes() const {
    struct statvfs s {};
    if (::statvfs(root_.c_str(), &s) != 0) return 0;
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

void Store::collect_garbage() const {
    std::set<std::string> used, views;  // blob file names; view directory names
    for (const auto& m : list()) {
        for (const auto& f : m.files) used.insert(fs::path(blob_path(f.digest)).filename().string());
        if (!m.files.empty()) views.insert(m.files[0].digest.substr(7));
        if (!m.template_text.empty()) views.insert(name_view(m.name));
    }
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_ + "/blobs", ec)) {
        const std::string n = e.path().filename().string();
        if (n.size() == 7 + 64 && n.compare(0, 7, "sha256-") == 0 && !used.count(n)) fs::remove(e.path(), ec);
    }
    for (const auto& e : fs::directory_iterator(root_ + "/views", ec)) {
        if (!views.count(e.path().filename().string())) fs::remove_all(e.path(), ec);
    }
}

Result<std::string> resolve_model_argument(const std::string& text) {
    std::error_code ec;
    if (fs::is_regular_file(text, ec)) return text;
    if (looks_like_path(text)) return Error{text + ": no such file"};
    auto name = parse_model_name(text);
    if (!name) return Error{text + ": neither a file nor a model name (" + name.error().message + ")"};
    auto store = Store::open();
    if (!store) return store.error();
    auto path = store->resolve(*name);
    if (!path) return Error{text + ": no such file, and " + path.error().message};
    return path;
}

std::string Store::upload_path() const {
    return root_ + "/blobs/upload-" + unique_suffix() + ".partial";
}

Status Store::adopt_blob(const std::string& path, const std::string& digest) {
    auto fail = [&](const std::string& why) -> Status {
        ::unlink(path.c_str());
        return Error{why};
    };
    if (!valid_digest(digest)) return fail("not a sha256 digest: '" + digest + "'");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(path + ": " + std::strerror(errno));
    Sha256 h;
    std::vector<uint8_t> buf(size_t(8) << 20);
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const std::string why = path + ": " + std::strerror(errno);
            ::close(fd);
            return fail(why);
        }
        h.update(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    const std::string got = "sha256:" + h.finish_hex();
    if (got != digest) return fail("digest mismatch: the bytes have " + got + ", not " + digest);
    if (!synced) return fail(path + ": " + std::strerror(errno));
    if (::rename(path.c_str(), blob_path(digest).c_str()) != 0)
        return fail(blob_path(digest) + ": " + std::strerror(errno));
    return {};
}

std::string registry_template_for(const std::string& model_path) {
    // Only a file inside the store can have come from a registry; anything else costs nothing.
    const std::string root = Store::default_root();
    if (model_path.rfind(root + "/", 0) != 0) return "";
    auto store = Store::open(root);
    if (!store) return "";
    // A name with a template resolves into a view of its own (see resolve): the path names it.
    // Compared, not resolved: a lookup must not create views as it goes.
    for (const auto& m : store->list()) {
        if (m.template_text.empty() || m.files.empty()) continue;
        if (model_path.rfind(store->root() + "/views/" + name_view(m.name) + "/", 0) == 0) return m.template_text;
    }
    return "";
}

}  // namespace tf::hub
