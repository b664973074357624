#include "router/remote_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace tf::router {

namespace {

void init_curl() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// A short, single-line excerpt of a remote error body for messages.
std::string excerpt(const std::string& body) {
    std::string s = body.substr(0, 300);
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

}  // namespace

struct RemoteClient::Attempt {
    // Whole answers collect the body; streamed ones pass each event's data on.
    const std::function<bool(std::string_view)>* on_data = nullptr;
    std::string body;        // the whole body, or a failed stream's error body
    std::string line;        // a streamed line in the making
    bool passed_on = false;  // something reached the caller: no retry from here
    bool stopped = false;    // the caller said stop
    CURL* curl = nullptr;
};

Result<std::unique_ptr<RemoteClient>> RemoteClient::create(const Endpoint& e) {
    std::string key;
    if (!e.api_key_env.empty()) {
        const char* v = std::getenv(e.api_key_env.c_str());
        if (v == nullptr || *v == '\0')
            return Error{e.where + ": endpoints." + e.name + ": the environment variable " + e.api_key_env +
                         " (its API key) is not set"};
        key = trim(v);
    } else if (!e.api_key_file.empty()) {
        std::ifstream in(e.api_key_file, std::ios::binary);
        if (!in) return Error{e.where + ": endpoints." + e.name + ": cannot read its api_key_file " + e.api_key_file};
        std::stringstream ss;
        ss << in.rdbuf();
        key = trim(ss.str());
        if (key.empty()) return Error{e.where + ": endpoints." + e.name + ": " + e.api_key_file + " is empty"};
    }
    init_curl();
    return std::unique_ptr<RemoteClient>(new RemoteClient(e, std::move(key)));
}

bool RemoteClient::available() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_ < e_.breaker_failures || std::chrono::steady_clock::now() >= open_until_;
}

void RemoteClient::record(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok) {
        failures_ = 0;
        return;
    }
    // Each failure at or past the threshold (a half-open trial included) opens it again.
    if (++failures_ >= e_.breaker_failures)
        open_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(e_.breaker_open_s);
}

Result<long> RemoteClient::attempt(const std::string& path, const std::string& body, Attempt& a) {
    CURL* c = curl_easy_init();
    if (c == nullptr) return Error{"libcurl: cannot create a handle", ErrorKind::Internal};
    a.curl = c;
    a.body.clear();
    a.line.clear();
    const std::string url = e_.url + path;
    char err[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, a.on_data ? "Accept: text/event-stream" : "Accept: application/json");
    std::string auth;
    if (!key_.empty()) {
        auth = "Authorization: Bearer " + key_;
        headers = curl_slist_append(headers, auth.c_str());
    }
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(e_.timeout_s));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(e_.connect_timeout_s));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    // Redirects would carry the key to wherever they point: refused.
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(
        c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t, size_t n, void* ud) -> size_t {
            auto& a = *static_cast<Attempt*>(ud);
            long status = 0;
            curl_easy_getinfo(a.curl, CURLINFO_RESPONSE_CODE, &status);
            if (a.on_data == nullptr || status < 200 || status >= 300) {
                if (a.body.size() + n > (64u << 20)) return 0;  // an answer that large is not one
                a.body.append(p, n);
                return n;
            }
            for (size_t i = 0; i < n; ++i) {
                if (p[i] != '\n') {
                    if (a.line.size() < (16u << 20)) a.line.push_back(p[i]);
                    continue;
                }
                if (!a.line.empty() && a.line.back() == '\r') a.line.pop_back();
                if (a.line.rfind("data:", 0) == 0) {
                    std::string_view d(a.line);
                    d.remove_prefix(5);
                    if (!d.empty() && d.front() == ' ') d.remove_prefix(1);
                    a.passed_on = true;
                    if (!(*a.on_data)(d)) {
                        a.stopped = true;
                        return 0;
                    }
                }
                a.line.clear();
            }
            return n;
        });
    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    a.curl = nullptr;
    if (a.stopped) return status;
    if (rc != CURLE_OK) {
        return Error{
            "endpoint " + e_.name + " (" + e_.url + "): " + (err[0] ? std::string(err) : curl_easy_strerror(rc)),
            rc == CURLE_OPERATION_TIMEDOUT ? ErrorKind::Timeout : ErrorKind::Unavailable};
    }
    return status;
}

Result<long> RemoteClient::with_retries(const std::string& path, const std::string& body, Attempt& a) {
    if (!available())
        return Error{"endpoint " + e_.name + ": the circuit is open after " + std::to_string(e_.breaker_failures) +
                         " failures in a row; next try within " + std::to_string(e_.breaker_open_s) + " s",
                     ErrorKind::Unavailable};
    for (int i = 0;; ++i) {
        auto r = attempt(path, body, a);
        const bool retryable = !a.passed_on && !a.stopped && (!r || *r == 429 || *r >= 500);
        if (!retryable || i >= e_.retries) {
            if (!r) {
                record(false);
                return r;
            }
            if (*r == 429 || *r >= 500) {
                record(false);
                return Error{"endpoint " + e_.name + " answered " + std::to_string(*r) + ": " + excerpt(a.body),
                             *r == 429 ? ErrorKind::Overloaded : ErrorKind::Upstream};
            }
            record(true);
            return r;
        }
        // 0.25 s, 0.5 s, 1 s, … up to 4 s between tries.
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(4000, 250 << std::min(i, 4))));
    }
}

Result<RemoteReply> RemoteClient::post(const std::string& path, const std::string& body) {
    Attempt a;
    auto r = with_retries(path, body, a);
    if (!r) return r.error();
    return RemoteReply{*r, std::move(a.body)};
}

Result<long> RemoteClient::stream(const std::string& path, const std::string& body,
                                  const std::function<bool(std::string_view)>& on_data) {
    Attempt a;
    a.on_data = &on_data;
    auto r = with_retries(path, body, a);
    if (r && (*r < 200 || *r >= 300) && !a.body.empty())
        return Error{"endpoint " + e_.name + " answered " + std::to_string(*r) + ": " + excerpt(a.body),
                     *r >= 500 ? ErrorKind::Upstream : ErrorKind::Invalid};
    return r;
}

}  // namespace tf::router
