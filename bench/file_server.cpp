// A static file server for bench/pull_bench.sh: serves a directory over HTTP/1.1 with Range
// requests and keep-alive (Python's http.server has neither Range nor the speed), so a pull's
// resume is measured as a resume. cpp-httplib, files mapped and sent in 1 MiB chunks.
//
//   file_server DIR PORT
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "util/mapped_file.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: file_server DIR PORT\n");
        return 2;
    }
    const std::filesystem::path root = std::filesystem::canonical(argv[1]);
    httplib::Server srv;
    srv.Get(R"(/(.*))", [&](const httplib::Request& req, httplib::Response& res) {
        const std::filesystem::path p = std::filesystem::weakly_canonical(root / req.matches[1].str());
        if (p.string().rfind(root.string(), 0) != 0 || !std::filesystem::is_regular_file(p)) {
            res.status = 404;
            return;
        }
        auto m = tf::MappedFile::open(p.string());
        if (!m) {
            res.status = 500;
            return;
        }
        std::shared_ptr<tf::MappedFile> file = std::move(m.value());
        res.set_content_provider(file->bytes().size(), "application/octet-stream",
                                 [file](size_t offset, size_t length, httplib::DataSink& sink) {
                                     const size_t n = std::min<size_t>(length, size_t(1) << 20);
                                     sink.write(reinterpret_cast<const char*>(file->bytes().data()) + offset, n);
                                     return true;
                                 });
    });
    std::fprintf(stderr, "file_server: %s on 127.0.0.1:%s\n", root.c_str(), argv[2]);
    return srv.listen("127.0.0.1", std::atoi(argv[2])) ? 0 : 1;
}
