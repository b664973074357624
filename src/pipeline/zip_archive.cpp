#include "pipeline/zip_archive.h"

#include <zip.h>

namespace tf::pipeline {

ZipArchive::ZipArchive(zip* z, std::shared_ptr<const std::string> data)
    : data_(std::move(data)), z_(z, [](zip* p) { zip_discard(p); }) {}

Result<ZipArchive> ZipArchive::open(const std::string& bytes) {
    // libzip reads the buffer in place for as long as the archive is open: the archive keeps
    // its own copy, so it never outlives the bytes it reads (a temporary string, say).
    auto data = std::make_shared<const std::string>(bytes);
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(data->data(), data->size(), 0, &err);
    if (src == nullptr) {
        zip_error_fini(&err);
        return Error{"cannot read the file"};
    }
    zip_t* z = zip_open_from_source(src, ZIP_RDONLY, &err);
    zip_error_fini(&err);
    if (z == nullptr) {
        zip_source_free(src);
        return Error{"not a valid zip archive"};
    }
    return ZipArchive(z, std::move(data));
}

bool ZipArchive::has(const std::string& name) const {
    return zip_name_locate(z_.get(), name.c_str(), 0) >= 0;
}

Result<std::string> ZipArchive::read(const std::string& name, size_t max) const {
    zip_stat_t st;
    if (zip_stat(z_.get(), name.c_str(), 0, &st) != 0) return Error{"no " + name + " in the archive"};
    if ((st.valid & ZIP_STAT_SIZE) && st.size > max) {
        return Error{name + " expands to " + std::to_string(st.size >> 20) + " MiB, more than the " +
                     std::to_string(max >> 20) + " MiB allowed"};
    }
    zip_file_t* f = zip_fopen(z_.get(), name.c_str(), 0);
    if (f == nullptr) return Error{"cannot open " + name + " (damaged or encrypted)"};
    std::string out;
    char buf[65536];
    while (true) {
        const zip_int64_t n = zip_fread(f, buf, sizeof buf);
        if (n < 0) {
            zip_fclose(f);
            return Error{name + " is damaged"};
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max) {  // the archive understated it
            zip_fclose(f);
            return Error{name + " expands past the " + std::to_string(max >> 20) + " MiB allowed"};
        }
    }
    zip_fclose(f);
    return out;
}

}  // namespace tf::pipeline
