// HTTP for pulling models, on libcurl: certificate verification always on (a CA bundle may be
// given with SSL_CERT_FILE or CURL_CA_BUNDLE, as curl's own tool reads them), proxies from the
// environment (http_proxy, https_proxy, no_proxy), redirects followed, retries with backoff on
// 429, 5xx and broken connections.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hub/store.h"
#include "util/result.h"

namespace tf::hub {

struct HttpOptions {
    std::vector<std::string> headers;  // "Authorization: Bearer …" (never logged)
    int max_attempts = 6;              // per request, counting only attempts that made no progress
    double backoff_seconds = 1.0;      // first wait; doubles, capped at 30 s; Retry-After wins
    bool quiet = false;
    // Polled as bytes arrive: true stops the transfer ("cancelled"; the partial file stays for
    // a later resume). For a server whose client went away.
    std::function<bool()> cancelled;
    // A file of at least segment_min_bytes may be fetched over this many connections at once,
    // each a byte range (hub CDNs cap the speed of one connection); the hash then follows the
    // bytes on disk. 1: one connection, hashed and written on threads of their own as it streams.
    int connections = 4;
    uint64_t segment_min_bytes = uint64_t(256) << 20;
    // false (the default): one connection first, several only when it runs below 150 MB/s for
    // its first 2 s; true: several from the start (TERRAFERMA_PULL_CONNECTIONS sets it).
    bool split_at_start = false;
    // Environment: TERRAFERMA_PULL_BACKOFF_MS overrides backoff_seconds (tests use a few ms),
    // TERRAFERMA_PULL_CONNECTIONS and TERRAFERMA_PULL_SEGMENT_MIN (bytes) the two above.
    static HttpOptions from_environment();
};

struct HttpResponse {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names, of the final response
    std::string url;                             // after redirects
};

// GET with retries; the body is limited to max_body bytes. Any status is returned (the caller
// decides what a 404 means); transport failures after all attempts are errors.
Result<HttpResponse> http_get(const std::string& url, const HttpOptions& opt, size_t max_body = size_t(32) << 20);

// Downloads url into the store as the blob want_digest ("sha256:…", want_size bytes): resumes a
// .partial left by an earlier attempt (HTTP Range), hashes while streaming, and lands the blob by
// rename only when the digest matches (a mismatch deletes the bytes). Refuses when the disk has
// too little room. progress(done, total) is called as bytes arrive.
Status download_blob(Store& store, const std::string& url, const std::string& want_digest, uint64_t want_size,
                     const HttpOptions& opt, const ByteProgress& progress);

// Whether fetching is refused by the environment (TERRAFERMA_OFFLINE=1 or HF_HUB_OFFLINE=1).
bool offline_by_environment();

}  // namespace tf::hub
