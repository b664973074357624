#include "hub/http.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "util/sha256.h"

namespace tf::hub {

namespace {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

// One transfer's state, shared by libcurl's callbacks.
struct Transfer {
    long status = 0;
    std::map<std::string, std::string> headers;
    // Sink for the body of a successful response; returns false to abort the transfer.
    std::function<bool(const char*, size_t)> on_body;
    std::string error_body;  // the first bytes of a failure's body, for messages
    bool ok_status() const { return status >= 200 && status < 300; }
};

size_t header_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect, or a 100)
        t->headers.clear();
        const size_t sp = line.find(' ');
        t->status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
        t->headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
    return size * n;
}

size_t write_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t len = size * n;
    if (!t->ok_status()) {
        if (t->error_body.size() < 4096) t->error_body.append(data, std::min(len, 4096 - t->error_body.size()));
        return len;
    }
    return t->on_body(data, len) ? len : 0;
}

// Sets what every request shares; returns the header list to free.
curl_slist* configure(CURL* c, const std::string& url, const HttpOptions& opt, Transfer& t,
                      const std::vector<std::string>& extra) {
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    for (const char* env : {"SSL_CERT_FILE", "CURL_CA_BUNDLE"}) {
        if (const char* ca = std::getenv(env); ca && *ca) {
            curl_easy_setopt(c, CURLOPT_CAINFO, ca);
            break;
        }
    }
    if (const char* dir = std::getenv("SSL_CERT_DIR"); dir && *dir) curl_easy_setopt(c, CURLOPT_CAPATH, dir);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "terraferma/0.2");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    // A stalled connection (under 1 KiB/s for 60 s) counts as broken and is retried.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024L);
    curl_slist* list = nullptr;
    for (const auto& h : opt.headers) list = curl_slist_append(list, h.c_str());
    for (const auto& h : extra) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    return list;
}

bool retryable_status(long s) {
    return s == 408 || s == 429 || (s >= 500 && s <= 599);
}

bool retryable_curl(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return true;
        default:
            return false;
    }
}

// Seconds to wait before attempt k (0-based) after a failure; Retry-After (seconds) wins.
double wait_seconds(const HttpOptions& opt, int k, const std::map<std::string, std::string>& headers) {
    if (auto it = headers.find("retry-after"); it != headers.end()) {
        char* end = nullptr;
        const double s = std::strtod(it->second.c_str(), &end);
        if (end != it->second.c_str() && s >= 0) return std::min(s, 60.0);
    }
    return std::min(opt.backoff_seconds * static_cast<double>(1u << std::min(k, 10)), 30.0);
}

void sleep_for(double s) {
    std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::string describe(long status, const std::string& body) {
    std::string s = "HTTP " + std::to_string(status);
    std::string b = body.substr(0, 200);
    std::replace(b.begin(), b.end(), '\n', ' ');
    if (!b.empty()) s += " (" + b + ")";
    return s;
}

// One request over a transfer whose callbacks are set: the error in curl's words ("" when
// none), and the URL after redirects.
CURLcode perform(const std::string& url, const HttpOptions& opt, Transfer& t, const std::vector<std::string>& extra,
                 std::string& error, std::string* final_url = nullptr) {
    CURL* c = curl_easy_init();
    if (!c) {
        error = "libcurl could not start a transfer";
        return CURLE_FAILED_INIT;
    }
    curl_slist* list = configure(c, url, opt, t, extra);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    const CURLcode rc = curl_easy_perform(c);
    if (final_url) {
        char* eff = nullptr;
        curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
        *final_url = eff ? eff : url;
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    error = rc == CURLE_OK ? "" : (errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return rc;
}

}  // namespace

HttpOptions HttpOptions::from_environment() {
    HttpOptions o;
    if (const char* b = std::getenv("TERRAFERMA_PULL_BACKOFF_MS"); b && *b) o.backoff_seconds = std::atof(b) / 1000.0;
    if (const char* c = std::getenv("TERRAFERMA_PULL_CONNECTIONS"); c && *c) {
        o.connections = std::clamp(std::atoi(c), 1, 16);
        o.split_at_start = true;
    }
    if (const char* m = std::getenv("TERRAFERMA_PULL_SEGMENT_MIN"); m && *m)
        o.segment_min_bytes = std::strtoull(m, nullptr, 10);
    return o;
}

bool offline_by_environment() {
    for (const char* k : {"TERRAFERMA_OFFLINE", "HF_HUB_OFFLINE"}) {
        const char* v = std::getenv(k);
        if (v && *v && std::string(v) != "0" && lower(v) != "false") return true;
    }
    return false;
}

Result<HttpResponse> http_get(const std::string& url, const HttpOptions& opt, size_t max_body) {
    global_init();
    std::string last_error;
    for (int attempt = 0; attempt < opt.max_attempts; ++attempt) {
        Transfer t;
        HttpResponse r;
        bool too_big = false;
        t.on_body = [&](const char* d, size_t n) {
            if (r.body.size() + n > max_body) {
                too_big = true;
                return false;
            }
            r.body.append(d, n);
            return true;
        };
        std::string error;
        const CURLcode rc = perform(url, opt, t, {}, error, &r.url);
        if (too_big) return Error{url + ": the answer is larger than " + std::to_string(max_body >> 20) + " MiB"};
        if (rc != CURLE_OK) {
            last_error = url + ": " + error;
            if (!retryable_curl(rc)) return Error{last_error};
            sleep_for(wait_seconds(opt, attempt, t.headers));
            continue;
        }
        r.status = t.status;
        r.headers = t.headers;
        if (!t.ok_status()) r.body = t.error_body;
        if (retryable_status(r.status) && attempt + 1 < opt.max_attempts) {
            last_error = url + ": " + describe(r.status, r.body);
            sleep_for(wait_seconds(opt, attempt, t.headers));
            continue;
        }
        return r;
    }
    return Error{last_error + " (gave up after " + std::to_string(opt.max_attempts) + " attempts)"};
}

namespace {

struct Segment {
    uint64_t start = 0, end = 0, next = 0;  // [start, end); bytes before next are on disk
};

// The segments file beside a partial download: "start end next" per line, replaced by rename.
std::vector<Segment> load_segments(const std::string& path, uint64_t size) {
    std::vector<Segment> out;
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return out;
    unsigned long long a, b, c;
    while (std::fscanf(f, "%llu %llu %llu", &a, &b, &c) == 3) out.push_back({a, b, c});
    std::fclose(f);
    // Contiguous, covering the file, each next inside its segment — else start over.
    uint64_t at = 0;
    for (const auto& s : out) {
        if (s.start != at || s.end < s.start || s.next < s.start || s.next > s.end) return {};
        at = s.end;
    }
    if (at != size) return {};
    return out;
}

bool save_segments(const std::string& path, const std::vector<Segment>& segs) {
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return false;
    for (const auto& s : segs)
        std::fprintf(f, "%llu %llu %llu\n", static_cast<unsigned long long>(s.start),
                     static_cast<unsigned long long>(s.end), static_cast<unsigned long long>(s.next));
    const bool ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

enum class SegmentsResult { Done, Failed, NoRanges };

// curl hands over 16 KiB at a time; writing each piece costs a system call (60,000 per GB, most
// of a pull's time), so bytes are gathered and written up to 4 MiB at once — less for a small
// file or range, so that a kill still leaves most of what arrived on disk.
size_t write_chunk(uint64_t span) {
    return static_cast<size_t>(std::clamp<uint64_t>(span / 16, 16 << 10, 4 << 20));
}

bool write_all(int fd, const std::string& bytes, uint64_t at, std::string& error) {
    for (size_t off = 0; off < bytes.size();) {
        const ssize_t w = ::pwrite(fd, bytes.data() + off, bytes.size() - off, static_cast<off_t>(at + off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            error = std::strerror(errno);
            return false;
        }
        off += static_cast<size_t>(w);
    }
    return true;
}

// Starts writing back each 64 MiB as it completes, so the fsync before the rename has little
// left to do (1 GB of dirty pages would otherwise be written in one go at the end).
void flush_behind(int fd, uint64_t offset, size_t n) {
    constexpr uint64_t kStep = uint64_t(64) << 20;
    const uint64_t end = offset + n;
    if (end / kStep != offset / kStep) {
        const uint64_t boundary = end / kStep * kStep;
        ::sync_file_range(fd, static_cast<off_t>(boundary - kStep), static_cast<off_t>(kStep), SYNC_FILE_RANGE_WRITE);
    }
}

// One connection's bytes, taken off the thread that receives them: a thread hashes them while
// another writes them, so receiving, hashing and writing overlap (hashing in the receiving
// thread made a pull the sum of the three). Writes use O_DIRECT where the file system allows it
// (not tmpfs): no copy into the page cache and no writeback left for the fsync — on this kind
// of disk the buffered path cost more system time than the download itself. The stream stays
// at 4 KiB boundaries for that: chunks are multiples of 4 KiB, a resume starts at a boundary,
// and after a broken transfer only the aligned part of what arrived is kept (the rest is
// fetched again); only the file's last bytes go through the page cache.
class StreamSink {
  public:
    static constexpr size_t kAlign = 4096;

    StreamSink(int fd, int direct_fd, uint64_t have, std::unique_ptr<Sha256> hash, uint64_t total,
               const ByteProgress& progress)
        : fd_(fd),
          direct_fd_(direct_fd),
          written_(have),
          received_(have),
          total_(total),
          progress_(progress),
          hash_(std::move(hash)) {
        chunk_size_ = static_cast<size_t>(std::clamp<uint64_t>(total / 16, 64 << 10, 4 << 20)) / kAlign * kAlign;
        hasher_ = std::thread([this] {
            work(hash_queue_, [this](const Chunk& c) { hash_->update({c.data, c.size}); });
        });
        writer_ = std::thread([this] { work(write_queue_, [this](const Chunk& c) { write(c); }); });
    }
    ~StreamSink() {
        {
            std::lock_guard lock(mu_);
            closing_ = true;
        }
        cv_.notify_all();
        hasher_.join();
        writer_.join();
    }

    // Bytes as they arrive; false once a write failed (the transfer should stop).
    bool append(const char* d, size_t n) {
        while (n > 0) {
            if (!pending_) pending_ = new_chunk();
            const size_t take = std::min(n, chunk_size_ - pending_->size);
            std::memcpy(pending_->data + pending_->size, d, take);
            pending_->size += take;
            received_ += take;
            d += take;
            n -= take;
            if (pending_->size == chunk_size_ && !submit()) return false;
        }
        return failed_.empty_flag();
    }

    // The end of one transfer: what is held goes too — all of it when the file is complete, else
    // only its aligned part — and everything queued is hashed and written before this returns.
    void finish(bool complete) {
        if (pending_ && !complete) {
            const size_t keep = pending_->size / kAlign * kAlign;
            received_ -= pending_->size - keep;
            pending_->size = keep;
        }
        if (pending_ && pending_->size > 0) submit();
        pending_.reset();
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return in_flight_ == 0; });
        received_ = written_;  // a failed write drops what followed it
    }

    // Starting over from byte 0 (a server that ignored the Range); only between transfers.
    bool restart() {
        if (::ftruncate(fd_, 0) != 0) {
            failed_.set(std::strerror(errno));
            return false;
        }
        written_ = received_ = 0;
        hash_ = std::make_unique<Sha256>();
        return true;
    }

    uint64_t received() const { return received_; }
    uint64_t written() const { return written_; }
    std::string error() const { return failed_.get(); }
    std::string digest() { return "sha256:" + hash_->finish_hex(); }

  private:
    struct Chunk {
        uint8_t* data = nullptr;
        size_t size = 0;
        uint64_t offset = 0;
        ~Chunk() { std::free(data); }
    };
    // The first failure, readable from any thread.
    class Failure {
      public:
        void set(const std::string& e) {
            std::lock_guard lock(mu_);
            if (message_.empty()) message_ = e;
            empty_ = false;
        }
        std::string get() const {
            std::lock_guard lock(mu_);
            return message_;
        }
        bool empty_flag() const { return empty_.load(); }

      private:
        mutable std::mutex mu_;
        std::string message_;
        std::atomic<bool> empty_{true};
    };

    std::shared_ptr<Chunk> new_chunk() {
        auto c = std::make_shared<Chunk>();
        c->data = static_cast<uint8_t*>(std::aligned_alloc(kAlign, chunk_size_));
        if (!c->data) throw std::bad_alloc();
        c->offset = received_;
        return c;
    }

    // Queues the held chunk for both workers; waits while 8 chunks are in flight (32 MiB).
    bool submit() {
        std::shared_ptr<Chunk> c = std::move(pending_);
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return in_flight_ < 8; });
        in_flight_ += 2;
        hash_queue_.push_back(c);
        write_queue_.push_back(std::move(c));
        lock.unlock();
        cv_.notify_all();
        return failed_.empty_flag();
    }

    void work(std::deque<std::shared_ptr<Chunk>>& queue, const std::function<void(const Chunk&)>& f) {
        for (;;) {
            std::shared_ptr<Chunk> c;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return !queue.empty() || closing_; });
                if (queue.empty()) return;
                c = std::move(queue.front());
                queue.pop_front();
            }
            f(*c);
            {
                std::lock_guard lock(mu_);
                --in_flight_;
            }
            cv_.notify_all();
        }
    }

    void write(const Chunk& c) {
        if (!failed_.empty_flag()) return;
        const bool aligned = c.offset % kAlign == 0 && c.size % kAlign == 0;
        size_t off = 0;
        while (off < c.size) {
            const int fd = aligned && direct_fd_ >= 0 ? direct_fd_ : fd_;
            const ssize_t w = ::pwrite(fd, c.data + off, c.size - off, static_cast<off_t>(c.offset + off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno == EINVAL && fd == direct_fd_) {
                direct_fd_ = -1;  // the file system refused O_DIRECT after all: the page cache, then
                continue;
            }
            if (w <= 0) {
                failed_.set(std::strerror(errno));
                return;
            }
            off += static_cast<size_t>(w);
        }
        if (!aligned || direct_fd_ < 0) flush_behind(fd_, c.offset, c.size);
        written_ = c.offset + c.size;
        if (progress_) progress_(written_, total_);
    }

    int fd_;
    int direct_fd_;  // the writer thread's
    std::atomic<uint64_t> written_;
    uint64_t received_;  // the receiving thread's
    uint64_t total_;
    const ByteProgress& progress_;
    std::unique_ptr<Sha256> hash_;
    size_t chunk_size_ = 0;
    std::shared_ptr<Chunk> pending_;
    Failure failed_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Chunk>> hash_queue_, write_queue_;
    int in_flight_ = 0;
    bool closing_ = false;
    std::thread hasher_, writer_;
};

// Fetches the segments over one connection each; bytes land with pwrite at their offsets.
SegmentsResult fetch_segments(int fd, const std::string& url, const std::string& seg_path, std::vector<Segment>& segs,
                              uint64_t want_size, const HttpOptions& opt, const ByteProgress& progress,
                              std::string& error, std::string& digest) {
    std::mutex mu;
    std::condition_variable arrived;
    std::atomic<uint64_t> done{0};
    for (const auto& s : segs) done += s.next - s.start;
    std::atomic<bool> no_ranges{false}, stop{false};
    bool threads_done = false;  // under mu
    std::string first_error;
    auto fail = [&](const std::string& e) {
        std::lock_guard lock(mu);
        if (first_error.empty()) first_error = e;
        stop = true;
    };
    auto report = [&] {
        if (!progress) return;
        std::lock_guard lock(mu);
        progress(done.load(), want_size);
    };
    std::vector<std::thread> threads;
    for (size_t i = 0; i < segs.size(); ++i) {
        if (segs[i].next >= segs[i].end) continue;
        threads.emplace_back([&, i] {
            Segment& seg = segs[i];
            int failures = 0;
            uint64_t since_save = 0;
            std::string last_error;
            while (seg.next < seg.end && !stop) {
                if (failures >= opt.max_attempts) {
                    fail(last_error + " (gave up after " + std::to_string(opt.max_attempts) +
                         " attempts; run pull again to resume)");
                    return;
                }
                Transfer t;
                std::string write_error, pending;
                const size_t chunk = write_chunk(seg.end - seg.start);
                pending.reserve(chunk);
                const uint64_t before = seg.next;
                auto flush = [&] {
                    if (pending.empty()) return true;
                    if (!write_all(fd, pending, seg.next, write_error)) return false;
                    const size_t n = pending.size();
                    pending.clear();
                    {
                        // Other threads read every segment's `next` when they save the state.
                        std::lock_guard lock(mu);
                        seg.next += n;
                        since_save += n;
                        // Recorded every 1/8 of the range (at most 16 MiB): a kill loses little.
                        if (since_save >= std::min<uint64_t>(uint64_t(16) << 20, (seg.end - seg.start) / 8 + 1)) {
                            since_save = 0;
                            save_segments(seg_path, segs);
                        }
                    }
                    flush_behind(fd, seg.next - n, n);
                    done += n;
                    arrived.notify_one();
                    report();
                    return true;
                };
                t.on_body = [&](const char* d, size_t n) {
                    if (t.status != 206) {
                        no_ranges = true;
                        return false;
                    }
                    if (stop || (opt.cancelled && opt.cancelled())) return false;
                    if (seg.next + pending.size() + n > seg.end) {
                        write_error = "the server sent more than the range asked for";
                        return false;
                    }
                    pending.append(d, n);
                    return pending.size() < chunk || flush();
                };
                const std::vector<std::string> extra = {"Range: bytes=" + std::to_string(seg.next) + "-" +
                                                        std::to_string(seg.end - 1)};
                std::string error;
                const CURLcode rc = perform(url, opt, t, extra, error);
                if (rc == CURLE_FAILED_INIT) return fail(error);
                if (write_error.empty()) flush();  // what arrived before an error is good data
                if (no_ranges || stop) return;
                if (!write_error.empty()) return fail(url + ": " + write_error);
                if (opt.cancelled && opt.cancelled()) return fail(url + ": cancelled (run pull again to resume)");
                if (seg.next > before) failures = 0;
                if (rc != CURLE_OK) {
                    last_error = url + ": " + error;
                    if (!retryable_curl(rc)) return fail(last_error);
                    if (seg.next == before) sleep_for(wait_seconds(opt, failures, t.headers));
                    ++failures;
                    continue;
                }
                if (t.status == 401 || t.status == 403)
                    return fail(url + ": " + describe(t.status, t.error_body) +
                                ": access denied (a gated or private model needs a token)");
                if (retryable_status(t.status) || t.status == 416 || (t.ok_status() && seg.next < seg.end)) {
                    last_error = url + ": " + describe(t.status, t.error_body);
                    sleep_for(wait_seconds(opt, failures, t.headers));
                    ++failures;
                    continue;
                }
                if (!t.ok_status()) return fail(url + ": " + describe(t.status, t.error_body));
            }
        });
    }
    // The hash follows the bytes on disk from the start: it reads (from the page cache) up to the
    // first range still arriving, so hashing overlaps the download instead of following it.
    std::atomic<bool> hashing_failed{false};
    std::thread hasher([&] {
        Sha256 h;
        std::vector<uint8_t> buf(size_t(4) << 20);
        uint64_t hashed = 0;
        while (hashed < want_size) {
            uint64_t frontier = 0;
            {
                std::unique_lock lock(mu);
                for (;;) {
                    frontier = 0;
                    for (const auto& sg : segs) {
                        frontier = sg.next;
                        if (sg.next < sg.end) break;
                    }
                    if (frontier > hashed || stop || no_ranges || threads_done) break;
                    arrived.wait_for(lock, std::chrono::milliseconds(50));
                }
            }
            if (frontier <= hashed) return;  // the download stopped short
            while (hashed < frontier) {
                const ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), frontier - hashed),
                                          static_cast<off_t>(hashed));
                if (n <= 0) {
                    hashing_failed = true;
                    return;
                }
                h.update(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
                hashed += static_cast<uint64_t>(n);
            }
        }
        digest = "sha256:" + h.finish_hex();
    });
    for (auto& th : threads) th.join();
    {
        std::lock_guard lock(mu);
        threads_done = true;
        save_segments(seg_path, segs);
    }
    arrived.notify_all();
    hasher.join();
    if (no_ranges) return SegmentsResult::NoRanges;
    if (!first_error.empty()) {
        error = first_error;
        return SegmentsResult::Failed;
    }
    if (hashing_failed || digest.empty()) {
        error = url + ": cannot read back the downloaded bytes to hash them";
        return SegmentsResult::Failed;
    }
    return SegmentsResult::Done;
}

}  // namespace

Status download_blob(Store& store, const std::string& url, const std::string& want_digest, uint64_t want_size,
                     const HttpOptions& opt, const ByteProgress& progress) {
    if (!valid_digest(want_digest)) return Error{url + ": the source gave no usable SHA-256 ('" + want_digest + "')"};
    if (store.has_blob(want_digest, want_size)) {
        if (progress) progress(want_size, want_size);
        return {};
    }
    global_init();
    const std::string partial = store.partial_path(want_digest);
    const int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Error{partial + ": " + std::strerror(errno)};
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return Error{partial + ": another pull is downloading this file"};

    struct stat st {};
    ::fstat(fd, &st);
    uint64_t have = static_cast<uint64_t>(st.st_size);
    if (have > want_size) {
        if (::ftruncate(fd, 0) != 0) return Error{partial + ": " + std::strerror(errno)};
        have = 0;
    }
    const uint64_t need = want_size - have + (uint64_t(64) << 20);
    if (store.free_bytes() < need)
        return Error{"model store " + store.root() + ": " + std::to_string((want_size - have) >> 20) +
                     " MiB to download, " + std::to_string(store.free_bytes() >> 20) +
                     " MiB free (nothing was downloaded)"};

    // Several connections for a large file: from the start when asked for explicitly, else once
    // one connection proves slow (a CDN caps each connection; on a fast link one connection
    // hashing and writing as it streams is the quicker), or to finish what several began.
    const std::string seg_path = partial + ".segments";
    std::vector<Segment> segs = load_segments(seg_path, want_size);
    const bool large = opt.connections > 1 && want_size >= std::max<uint64_t>(opt.segment_min_bytes, 1);
    // The bytes from `done` on, over `connections` ranges (what is done stays one finished range).
    auto split = [&](uint64_t done) {
        segs.clear();
        if (done > 0) segs.push_back({0, done, done});
        const uint64_t n = static_cast<uint64_t>(opt.connections), rest = want_size - done;
        for (uint64_t k = 0; k < n; ++k) {
            const uint64_t a = done + rest * k / n, b = done + rest * (k + 1) / n;
            if (b > a) segs.push_back({a, b, a});
        }
        return save_segments(seg_path, segs);
    };
    if (segs.empty() && have == 0 && large && opt.split_at_start && !split(0))
        return Error{seg_path + ": " + std::strerror(errno)};
    bool may_split = large && !opt.split_at_start;
    for (;;) {
        if (!segs.empty()) {
            may_split = false;
            if (progress) {
                uint64_t d = 0;
                for (const auto& sg : segs) d += sg.next - sg.start;
                progress(d, want_size);
            }
            std::string error, digest;
            const SegmentsResult r = fetch_segments(fd, url, seg_path, segs, want_size, opt, progress, error, digest);
            if (r == SegmentsResult::Failed) return Error{error};
            if (r == SegmentsResult::Done) {
                ::unlink(seg_path.c_str());
                const std::string& got = digest;
                if (got != want_digest) {
                    ::unlink(partial.c_str());
                    return Error{url + ": checksum mismatch: the bytes received have " + got + ", the source listed " +
                                 want_digest + " (the download was deleted)"};
                }
                if (::fsync(fd) != 0) return Error{partial + ": " + std::strerror(errno)};
                if (::rename(partial.c_str(), store.blob_path(want_digest).c_str()) != 0)
                    return Error{store.blob_path(want_digest) + ": " + std::strerror(errno)};
                return {};
            }
            // The server ignores ranges: one connection from the start.
            ::unlink(seg_path.c_str());
            segs.clear();
            if (::ftruncate(fd, 0) != 0) return Error{partial + ": " + std::strerror(errno)};
            have = 0;
        }

        // A resume starts at a 4 KiB boundary (see StreamSink); the hash covers the bytes already
        // there, then every byte appended.
        if (have % StreamSink::kAlign != 0) {
            have = have / StreamSink::kAlign * StreamSink::kAlign;
            if (::ftruncate(fd, static_cast<off_t>(have)) != 0) return Error{partial + ": " + std::strerror(errno)};
        }
        auto hash = std::make_unique<Sha256>();
        {
            std::vector<uint8_t> buf(size_t(8) << 20);
            uint64_t off = 0;
            while (off < have) {
                const ssize_t n =
                    ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), have - off), static_cast<off_t>(off));
                if (n <= 0) return Error{partial + ": cannot read the bytes of an earlier attempt"};
                hash->update(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
                off += static_cast<uint64_t>(n);
            }
        }
        if (progress) progress(have, want_size);
        // -1 where the file system has no O_DIRECT (tmpfs): the sink then writes through the page cache.
        const int direct_fd = ::open(partial.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
        struct DirectCloser {
            int fd;
            ~DirectCloser() {
                if (fd >= 0) ::close(fd);
            }
        } direct_closer{direct_fd};
        StreamSink sink(fd, direct_fd, have, std::move(hash), want_size, progress);

        std::string last_error;
        int failures = 0;
        // Measured over this connection's first seconds: below this rate, several connections.
        constexpr double kSplitBelowBytesPerSecond = 150e6;
        const auto stream_start = std::chrono::steady_clock::now();
        const uint64_t stream_from = have;
        bool slow = false;
        while (have < want_size || want_size == 0) {
            if (failures >= opt.max_attempts)
                return Error{last_error + " (gave up after " + std::to_string(opt.max_attempts) +
                             " attempts; run pull again to resume at " + std::to_string(have >> 20) + " MiB)"};
            Transfer t;
            bool overflow = false, cancelled = false;
            const uint64_t start = have;
            bool restarted = false;
            t.on_body = [&](const char* d, size_t n) {
                if (may_split && want_size - sink.received() >= opt.segment_min_bytes) {
                    const double secs =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - stream_start).count();
                    if (secs >= 2.0 &&
                        static_cast<double>(sink.received() - stream_from) / secs < kSplitBelowBytesPerSecond) {
                        slow = true;
                        return false;
                    }
                }
                if (!restarted && t.status == 200 && start > 0) {
                    // The server ignored the Range: start over.
                    if (!sink.restart()) return false;
                }
                restarted = true;
                if (sink.received() + n > want_size) {
                    overflow = true;
                    return false;
                }
                if (opt.cancelled && opt.cancelled()) {
                    cancelled = true;
                    return false;
                }
                return sink.append(d, n);
            };
            std::vector<std::string> extra;
            if (have > 0) extra.push_back("Range: bytes=" + std::to_string(have) + "-");
            std::string error;
            const CURLcode rc = perform(url, opt, t, extra, error);
            if (rc == CURLE_FAILED_INIT) return Error{error};
            // What arrived before an error is good data (its aligned part); all of it once complete.
            sink.finish(rc == CURLE_OK && t.ok_status() && sink.received() == want_size);
            have = sink.written();
            if (progress) progress(have, want_size);

            if (const std::string e = sink.error(); !e.empty()) return Error{partial + ": " + e};
            if (slow) break;
            if (cancelled)
                return Error{url + ": cancelled (run pull again to resume at " + std::to_string(have >> 20) + " MiB)"};
            if (overflow)
                return Error{url + ": the server sent more than the " + std::to_string(want_size) +
                             " bytes the source listed"};
            const bool progressed = have > start || (t.status == 200 && start > 0);
            if (progressed) failures = 0;
            if (rc != CURLE_OK) {
                last_error = url + ": " + error;
                if (!retryable_curl(rc) && rc != CURLE_WRITE_ERROR) return Error{last_error};
                if (!progressed) sleep_for(wait_seconds(opt, failures, t.headers));
                ++failures;
                continue;
            }
            if (t.status == 416) {
                // Our partial is at or past the end the server knows: verify what we have, or restart.
                if (have == want_size) break;
                if (!sink.restart()) return Error{partial + ": " + sink.error()};
                have = 0;
                last_error = url + ": HTTP 416 for a range inside the file";
                ++failures;
                continue;
            }
            if (t.status == 401 || t.status == 403)
                return Error{url + ": " + describe(t.status, t.error_body) +
                             ": access denied (a gated or private model needs a token)"};
            if (retryable_status(t.status)) {
                last_error = url + ": " + describe(t.status, t.error_body);
                sleep_for(wait_seconds(opt, failures, t.headers));
                ++failures;
                continue;
            }
            if (!t.ok_status()) return Error{url + ": " + describe(t.status, t.error_body)};
            if (have < want_size) {
                last_error =
                    url + ": the connection ended at byte " + std::to_string(have) + " of " + std::to_string(want_size);
                ++failures;
                continue;
            }
            break;
        }
        if (slow) {
            // Several connections take over the rest; the hash then reads back what this one wrote.
            if (!split(have)) return Error{seg_path + ": " + std::strerror(errno)};
            continue;
        }
        if (::fsync(fd) != 0) return Error{partial + ": " + std::strerror(errno)};
        const std::string got = sink.digest();
        if (got != want_digest) {
            ::unlink(partial.c_str());
            return Error{url + ": checksum mismatch: the bytes received have " + got + ", the source listed " +
                         want_digest + " (the download was deleted)"};
        }
        if (::rename(partial.c_str(), store.blob_path(want_digest).c_str()) != 0)
            return Error{store.blob_path(want_digest) + ": " + std::strerror(errno)};
        return {};
    }
}

}  // namespace tf::hub
