// Spreadsheets and delimited text: XLSX (shared strings, sheets, cell types, dates by number
// format), ODS, CSV/TSV (delimiter detected) — each rendered as "## Sheet: NAME" headings and
// tab-separated rows. Errors name what is wrong; members that would inflate past ZipArchive's cap
// are refused.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace tf::pipeline {

Result<std::string> xlsx_to_text(const std::string& bytes);
Result<std::string> ods_to_text(const std::string& bytes);
// `text` already decoded to UTF-8.
Result<std::string> csv_to_text(std::string_view text);

}  // namespace tf::pipeline
