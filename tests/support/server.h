// Starts `terraferma serve` on a free port of 127.0.0.1 for a test and stops it afterwards.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace tf::test {

// A port of 127.0.0.1 that nothing listens on now (bound once, then closed): for a process to
// bind next, or for an address where connections are refused.
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

class ServerProcess {
  public:
    // With `wait_for_port`, returns once the server says where it serves (port() is 0 if it never does).
    explicit ServerProcess(const std::vector<std::string>& args, bool wait_for_port = true) {
        char tpl[] = "/tmp/tf-serve-XXXXXX";
        const int fd = ::mkstemp(tpl);
        log_ = tpl;
        std::vector<std::string> all = {TF_BINARY, "serve", "--port", "0"};
        all.insert(all.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : all) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fd, 2);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&fa);
        ::close(fd);
        // Wait for the "serving … on http://127.0.0.1:PORT" line.
        for (int i = 0; wait_for_port && i < 600 && pid_ > 0 && port_ == 0; ++i) {
            const std::string log = stderr_text();
            const size_t at = log.find("127.0.0.1:");
            if (at != std::string::npos) port_ = std::atoi(log.c_str() + at + 10);
            if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    ~ServerProcess() {
        stop(SIGKILL);
        ::unlink(log_.c_str());
    }
    int port() const { return port_; }
    // Sends a signal without waiting (stop() waits).
    void signal(int sig) const {
        if (pid_ > 0) ::kill(pid_, sig);
    }
    std::string stderr_text() const {
        std::ifstream f(log_);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    // Sends a signal and waits; returns the exit code (or 128 + signal), -1 on timeout.
    int stop(int sig = SIGTERM, int timeout_ms = 20000) {
        if (pid_ <= 0) return exit_code_;
        ::kill(pid_, sig);
        for (int waited = 0; waited < timeout_ms; waited += 20) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                return exit_code_;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return -1;
    }

  private:
    pid_t pid_ = -1;
    int port_ = 0;
    int exit_code_ = -1;
    std::string log_;
};

}  // namespace tf::test
