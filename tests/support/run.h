// Runs the real terraferma binary and captures what it prints, for end-to-end tests.
#pragma once

#include <cstdio>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace tf::test {

struct RunResult {
    int exit_code = -1;
    std::string out, err;
};

inline std::string read_fd(int fd) {
    std::string s;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
    return s;
}

// stdin_text, when given, is what the command reads on standard input (else it gets /dev/null).
inline RunResult run_terraferma(const std::vector<std::string>& args, const std::string& stdin_text = {}) {
    RunResult r;
    char in_tpl[] = "/tmp/tf-in-XXXXXX";
    int in_fd = ::mkstemp(in_tpl);
    if (in_fd >= 0) {
        size_t off = 0;
        while (off < stdin_text.size()) {
            const ssize_t n = ::write(in_fd, stdin_text.data() + off, stdin_text.size() - off);
            if (n <= 0) break;
            off += static_cast<size_t>(n);
        }
        ::lseek(in_fd, 0, SEEK_SET);
    }
    std::vector<std::string> all = {TF_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    char out_tpl[] = "/tmp/tf-out-XXXXXX", err_tpl[] = "/tmp/tf-err-XXXXXX";
    int out_fd = ::mkstemp(out_tpl), err_fd = ::mkstemp(err_tpl);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    pid_t pid;
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    posix_spawn_file_actions_destroy(&fa);
    ::lseek(out_fd, 0, SEEK_SET);
    ::lseek(err_fd, 0, SEEK_SET);
    r.out = read_fd(out_fd);
    r.err = read_fd(err_fd);
    ::close(out_fd);
    ::close(err_fd);
    ::close(in_fd);
    ::unlink(in_tpl);
    ::unlink(out_tpl);
    ::unlink(err_tpl);
    return r;
}

}  // namespace tf::test
