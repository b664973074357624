// The zip container of Office Open XML (DOCX, XLSX) and OpenDocument (ODT, ODS) files, read from
// memory. Members are read with a size cap checked against the bytes actually inflated, not only
// the sizes the archive claims: a member that expands past it (a decompression bomb) is an
// error, never unbounded memory.
#pragma once

#include <memory>
#include <string>

#include "util/result.h"

struct zip;

namespace tf::pipeline {

class ZipArchive {
  public:
    static constexpr size_t kMaxMember = 256u << 20;

    // Fails when the bytes are not a zip archive.
    static Result<ZipArchive> open(const std::string& bytes);

    bool has(const std::string& name) const;
    // The member's bytes; an error naming it when absent, damaged or larger than `max`.
    Result<std::string> read(const std::string& name, size_t max = kMaxMember) const;

  private:
    ZipArchive(zip* z, std::shared_ptr<const std::string> data);
    std::shared_ptr<const std::string> data_;  // declared first: destroyed after the archive
    std::shared_ptr<zip> z_;
};

}  // namespace tf::pipeline
