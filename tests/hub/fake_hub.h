// A fake Hugging Face hub and Ollama registry on 127.0.0.1, implementing the HTTP contracts
// `pull` relies on, with faults a real network has (dropped connections, 429, 500, a corrupted
// byte, a slow link) switched on per test:
//   GET /api/models/ORG/REPO/tree/main          file list (lfs.oid = SHA-256), paged by Link
//   GET /ORG/REPO/resolve/main/PATH             302 to /cdn/SHA256 (as the hub sends to its CDN)
//   GET /cdn/SHA256                             the bytes, with ETag and Range
//   GET /v2/NS/MODEL/manifests/TAG              an Ollama manifest
//   GET /v2/NS/MODEL/blobs/sha256:HEX           307 to /cdn/HEX
// Over HTTPS when given a certificate and key.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "util/sha256.h"

namespace tf::test {

struct FakeFile {
    std::string path;  // in the repository
    std::string bytes;
    bool lfs = true;
    uint64_t listed_size = 0;  // when non-zero, the size the listing claims (disk-full tests)
    std::string sha() const {
        return tf::sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    }
};

struct FakeRepo {
    std::vector<FakeFile> files;
    std::string token;  // non-empty: gated, needs "Authorization: Bearer <token>"
};

struct FakeOllamaModel {
    std::string gguf, template_text, params;
};

class FakeHub {
  public:
    // Faults, consumed as they fire.
    std::atomic<int> fail_429{0}, fail_500{0}, fail_416{0};
    std::atomic<int64_t> drop_at{-1};  // close the connection once after this byte offset of a file
    std::atomic<bool> corrupt{false};  // flip one byte of every file served
    std::atomic<int> chunk_delay_ms{0};
    std::atomic<size_t> chunk_size{64 * 1024};

    FakeHub() : server_(std::make_unique<httplib::Server>()) { routes(); }
    FakeHub(const std::string& cert, const std::string& key)
        : server_(std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str())), scheme_("https") {
        routes();
    }
    ~FakeHub() {
        server_->stop();
        if (thread_.joinable()) thread_.join();
    }

    void add_repo(const std::string& name, FakeRepo repo) {
        std::lock_guard lock(mu_);
        for (const auto& f : repo.files) blobs_[f.sha()] = f.bytes;
        repos_[name] = std::move(repo);
    }
    void add_ollama(const std::string& ns_model, const std::string& tag, FakeOllamaModel m) {
        std::lock_guard lock(mu_);
        for (const std::string* s : {&m.gguf, &m.template_text, &m.params}) blobs_[sha_of(*s)] = *s;
        ollama_[ns_model + ":" + tag] = std::move(m);
    }
    int start() {
        port_ = server_->bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_->listen_after_bind(); });
        while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return port_;
    }
    int port() const { return port_; }

    // Requests seen: "GET /cdn/… Range: bytes=N-".
    std::vector<std::string> log() {
        std::lock_guard lock(mu_);
        return log_;
    }
    void clear_log() {
        std::lock_guard lock(mu_);
        log_.clear();
    }
    static std::string sha_of(const std::string& s) {
        return tf::sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    }

  private:
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    std::string scheme_ = "http";
    int port_ = 0;
    std::mutex mu_;
    std::map<std::string, FakeRepo> repos_;
    std::map<std::string, std::string> blobs_;
    std::map<std::string, FakeOllamaModel> ollama_;
    std::vector<std::string> log_;

    void note(const httplib::Request& req) {
        std::lock_guard lock(mu_);
        std::string line = req.method + " " + req.path;
        if (req.has_header("Range")) line += " Range: " + req.get_header_value("Range");
        log_.push_back(line);
    }

    bool transient_fault(httplib::Response& res) {
        if (fail_429 > 0) {
            --fail_429;
            res.status = 429;
            res.set_header("Retry-After", "0");
            res.set_content("slow down", "text/plain");
            return true;
        }
        if (fail_500 > 0) {
            --fail_500;
            res.status = 500;
            res.set_content("internal error", "text/plain");
            return true;
        }
        return false;
    }

    void routes() {
        using nlohmann::json;
        server_->Get(R"(/api/models/([^/]+)/([^/]+)/tree/main)", [this](const httplib::Request& req,
                                                                        httplib::Response& res) {
            note(req);
            const std::string name = req.matches[1].str() + "/" + req.matches[2].str();
            std::lock_guard lock(mu_);
            auto it = repos_.find(name);
            if (it == repos_.end()) {
                res.status = 404;
                res.set_content(R"({"error":"Repository not found"})", "application/json");
                return;
            }
            if (!it->second.token.empty() && req.get_header_value("Authorization") != "Bearer " + it->second.token) {
                res.status = 401;
                res.set_content(R"({"error":"Access to model is restricted"})", "application/json");
                return;
            }
            // Two entries per page, as a paged listing looks.
            const size_t cursor = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
            json page = json::array();
            const auto& files = it->second.files;
            for (size_t i = cursor; i < files.size() && i < cursor + 2; ++i) {
                const auto& f = files[i];
                const uint64_t size = f.listed_size ? f.listed_size : f.bytes.size();
                json e = {{"type", "file"},
                          {"oid", "0123456789abcdef0123456789abcdef01234567"},
                          {"size", f.lfs ? 134 : size},
                          {"path", f.path}};
                if (f.lfs) e["lfs"] = {{"oid", f.sha()}, {"size", size}, {"pointerSize", 134}};
                page.push_back(e);
            }
            if (cursor + 2 < files.size())
                res.set_header("Link", "<" + scheme_ + "://" + req.get_header_value("Host") + "/api/models/" + name +
                                           "/tree/main?recursive=true&cursor=" + std::to_string(cursor + 2) +
                                           ">; rel=\"next\"");
            res.set_content(page.dump(), "application/json");
        });
        server_->Get(R"(/([^/]+)/([^/]+)/resolve/main/(.+))", [this](const httplib::Request& req,
                                                                     httplib::Response& res) {
            note(req);
            const std::string name = req.matches[1].str() + "/" + req.matches[2].str();
            std::lock_guard lock(mu_);
            auto it = repos_.find(name);
            if (it == repos_.end()) {
                res.status = 404;
                return;
            }
            if (!it->second.token.empty() && req.get_header_value("Authorization") != "Bearer " + it->second.token) {
                res.status = 401;
                return;
            }
            for (const auto& f : it->second.files) {
                if (f.path == req.matches[3].str()) {
                    res.status = 302;
                    res.set_header("Location", "/cdn/" + f.sha());
                    return;
                }
            }
            res.status = 404;
        });
        server_->Get(R"(/cdn/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
            serve_blob(req, res, req.matches[1].str());
        });
        server_->Get(R"(/v2/([^/]+)/([^/]+)/manifests/([^/]+))", [this](const httplib::Request& req,
                                                                        httplib::Response& res) {
            note(req);
            std::lock_guard lock(mu_);
            auto it = ollama_.find(req.matches[1].str() + "/" + req.matches[2].str() + ":" + req.matches[3].str());
            if (it == ollama_.end()) {
                res.status = 404;
                res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})",
                                "application/json");
                return;
            }
            auto layer = [](const std::string& media, const std::string& bytes) {
                return json{{"mediaType", media}, {"digest", "sha256:" + sha_of(bytes)}, {"size", bytes.size()}};
            };
            json m = {{"schemaVersion", 2},
                      {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                      {"config", layer("application/vnd.docker.container.image.v1+json", "{}")},
                      {"layers", json::array({layer("application/vnd.ollama.image.model", it->second.gguf),
                                              layer("application/vnd.ollama.image.template", it->second.template_text),
                                              layer("application/vnd.ollama.image.params", it->second.params)})}};
            res.set_content(m.dump(), "application/vnd.docker.distribution.manifest.v2+json");
        });
        server_->Get(R"(/v2/([^/]+)/([^/]+)/blobs/sha256:([0-9a-f]{64}))",
                     [this](const httplib::Request& req, httplib::Response& res) {
                         note(req);
                         res.status = 307;
                         res.set_header("Location", "/cdn/" + req.matches[3].str());
                     });
    }

    void serve_blob(const httplib::Request& req, httplib::Response& res, const std::string& sha) {
        note(req);
        if (transient_fault(res)) return;
        std::string bytes;
        {
            std::lock_guard lock(mu_);
            auto it = blobs_.find(sha);
            if (it == blobs_.end()) {
                res.status = 404;
                return;
            }
            bytes = it->second;
        }
        if (corrupt && !bytes.empty()) bytes[bytes.size() / 2] ^= 0x20;
        res.set_header("ETag", "\"" + sha + "\"");
        res.set_header("Accept-Ranges", "bytes");
        if (fail_416 > 0 && req.has_header("Range")) {
            --fail_416;
            res.status = 416;
            res.set_header("Content-Range", "bytes */" + std::to_string(bytes.size()));
            return;
        }
        // httplib answers a Range itself (206, Content-Range) by asking the provider for that slice.
        if (req.has_header("Range")) {
            const size_t start = std::stoul(req.get_header_value("Range").substr(6));  // bytes=N-
            if (start >= bytes.size()) {
                res.status = 416;
                res.set_header("Content-Range", "bytes */" + std::to_string(bytes.size()));
                return;
            }
        }
        auto body = std::make_shared<std::string>(std::move(bytes));
        res.set_content_provider(body->size(), "application/octet-stream",
                                 [this, body](size_t offset, size_t length, httplib::DataSink& sink) {
                                     const size_t n = std::min(length, chunk_size.load());
                                     const int64_t drop = drop_at.load();
                                     if (drop >= 0 && static_cast<int64_t>(offset) >= drop) {
                                         drop_at = -1;
                                         return false;  // the connection goes down mid-file
                                     }
                                     if (chunk_delay_ms > 0)
                                         std::this_thread::sleep_for(std::chrono::milliseconds(chunk_delay_ms.load()));
                                     sink.write(body->data() + offset, n);
                                     return true;
                                 });
    }
};

}  // namespace tf::test
