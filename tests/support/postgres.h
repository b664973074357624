// A real PostgreSQL for a test: Debian's server binaries, a cluster made by initdb in a
// temporary folder (owned by the `postgres` user when the test runs as root, since the server
// refuses to run as root), listening on 127.0.0.1 at a free port, removed at the end.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/server.h"

namespace tf::test {

class TestPostgres {
  public:
    TestPostgres() = default;
    TestPostgres(const TestPostgres&) = delete;
    TestPostgres& operator=(const TestPostgres&) = delete;
    ~TestPostgres() {
        if (!dir_.empty()) {
            (void)ctl("stop -m immediate");
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    }

    // Starts the cluster; false with `why` when this machine has no PostgreSQL server.
    bool start(std::string& why) {
        namespace fs = std::filesystem;
        std::error_code ec;
        for (const auto& v : fs::directory_iterator("/usr/lib/postgresql", ec)) {
            if (fs::exists(v.path() / "bin" / "pg_ctl")) bin_ = (v.path() / "bin").string();
        }
        if (bin_.empty()) {
            why = "no PostgreSQL server under /usr/lib/postgresql (scripts/setup.sh installs it)";
            return false;
        }
        char tpl[] = "/tmp/tf-pg-XXXXXX";
        if (::mkdtemp(tpl) == nullptr) {
            why = "cannot make a temporary folder";
            return false;
        }
        dir_ = tpl;
        as_ = ::geteuid() == 0 ? "runuser -u postgres -- " : "";
        if (::geteuid() == 0 && std::system(("chown postgres " + dir_).c_str()) != 0) {
            why = "cannot hand " + dir_ + " to the postgres user";
            return false;
        }
        if (std::system((as_ + bin_ + "/initdb -D " + dir_ + "/data -A trust -U postgres -E UTF8 --no-sync > " + dir_ +
                         "/initdb.log 2>&1")
                            .c_str()) != 0) {
            why = "initdb failed: " + log("initdb.log");
            return false;
        }
        port_ = free_port();
        if (!ctl("start")) {
            why = "the server did not start: " + log("server.log");
            return false;
        }
        return true;
    }

    std::string url() const { return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres"; }
    int port() const { return port_; }

    // An immediate stop (as a crash: no checkpoint) and a start, on the same port.
    bool restart() { return ctl("stop -m immediate") && ctl("start"); }

    // psql -c SQL: the rows, one per line, columns separated by |.
    std::string query(const std::string& sql) const {
        std::string cmd = bin_ + "/psql -XAtq \"" + url() + "\" -c \"" + sql + "\" 2>&1";
        std::string out;
        if (FILE* p = ::popen(cmd.c_str(), "r")) {
            char buf[4096];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
            ::pclose(p);
        }
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }
    long count(const std::string& sql) const { return std::strtol(query(sql).c_str(), nullptr, 10); }

    std::string log(const std::string& name) const {
        std::ifstream f(dir_ + "/" + name);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

  private:
    bool ctl(const std::string& what) {
        const std::string opts = "-p " + std::to_string(port_) + " -k " + dir_ +
                                 " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60";
        return std::system((as_ + bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 60 -o '" +
                            opts + "' " + what + " > /dev/null 2>&1")
                               .c_str()) == 0;
    }

    std::string bin_, dir_, as_;
    int port_ = 0;
};

}  // namespace tf::test
