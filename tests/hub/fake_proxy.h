// A forward HTTP proxy on 127.0.0.1, as a company's egress proxy behaves: plain HTTP requests in
// absolute form ("GET http://host:port/path HTTP/1.1") are forwarded to the origin, and CONNECT
// opens a tunnel (HTTPS passes through it untouched). Every request line is logged, so a test can
// tell that traffic went through the proxy, and which.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tf::test {

class FakeProxy {
  public:
    FakeProxy() {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(listener_, 64);
        socklen_t len = sizeof a;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~FakeProxy() {
        stop_ = true;
        ::shutdown(listener_, SHUT_RDWR);
        ::close(listener_);
        acceptor_.join();
        std::lock_guard lock(mu_);
        for (auto& t : workers_) t.join();
    }
    int port() const { return port_; }
    std::vector<std::string> log() {
        std::lock_guard lock(mu_);
        return log_;
    }

  private:
    static int connect_to(const std::string& host_port) {
        const size_t colon = host_port.rfind(':');
        if (colon == std::string::npos) return -1;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
        std::string host = host_port.substr(0, colon);
        if (host == "localhost") host = "127.0.0.1";
        if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return -1;
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            return -1;
        }
        return fd;
    }
    static bool send_all(int fd, const char* p, size_t n) {
        while (n > 0) {
            const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
            if (w <= 0) return false;
            p += w;
            n -= static_cast<size_t>(w);
        }
        return true;
    }
    // Copies bytes both ways until either side closes.
    static void pipe(int a, int b) {
        char buf[65536];
        pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
        for (;;) {
            if (::poll(fds, 2, 10000) <= 0) return;
            for (int i = 0; i < 2; ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                const ssize_t r = ::recv(fds[i].fd, buf, sizeof buf, 0);
                if (r <= 0 || !send_all(fds[1 - i].fd, buf, static_cast<size_t>(r))) return;
            }
        }
    }
    void serve(int client) {
        std::string head;
        char c;
        while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536 && ::recv(client, &c, 1, 0) == 1)
            head += c;
        const size_t eol = head.find("\r\n");
        const std::string line = head.substr(0, eol);
        {
            std::lock_guard lock(mu_);
            log_.push_back(line);
        }
        const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
        if (eol == std::string::npos || sp1 == std::string::npos || sp2 <= sp1) {
            ::close(client);
            return;
        }
        const std::string method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        if (method == "CONNECT") {
            const int up = connect_to(target);
            const std::string reply =
                up >= 0 ? "HTTP/1.1 200 Connection established\r\n\r\n" : "HTTP/1.1 502 Bad Gateway\r\n\r\n";
            send_all(client, reply.data(), reply.size());
            if (up >= 0) {
                pipe(client, up);
                ::close(up);
            }
            ::close(client);
            return;
        }
        // "http://host:port/path" → connect to host:port, send "GET /path", one request per connection.
        const size_t host_at = target.find("://");
        const size_t path_at = host_at == std::string::npos ? std::string::npos : target.find('/', host_at + 3);
        const int up =
            path_at == std::string::npos ? -1 : connect_to(target.substr(host_at + 3, path_at - host_at - 3));
        if (up < 0) {
            const std::string reply = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send_all(client, reply.data(), reply.size());
            ::close(client);
            return;
        }
        std::string request = method + " " + target.substr(path_at) + line.substr(sp2) + "\r\n";
        for (size_t at = eol + 2; at < head.size();) {
            const size_t e = head.find("\r\n", at);
            const std::string h = head.substr(at, e - at);
            at = e + 2;
            if (h.empty()) break;
            std::string lower = h;
            for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (lower.rfind("proxy-connection:", 0) == 0 || lower.rfind("connection:", 0) == 0) continue;
            request += h + "\r\n";
        }
        request += "Connection: close\r\n\r\n";
        if (send_all(up, request.data(), request.size())) pipe(client, up);
        ::close(up);
        ::close(client);
    }
    void accept_loop() {
        while (!stop_) {
            const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) {
                if (stop_) return;
                continue;
            }
            std::lock_guard lock(mu_);
            workers_.emplace_back([this, c] { serve(c); });
        }
    }

    int listener_ = -1, port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<std::thread> workers_;
    std::vector<std::string> log_;
};

}  // namespace tf::test
