// Word processing files as the pipeline's text: DOCX (body, footnotes and endnotes after it,
// headers and footers once, content controls, text boxes once, tracked changes accepted) and
// ODT. Errors name what is wrong; zip members that would inflate past ZipArchive's cap are
// refused.
#pragma once

#include <string>

#include "util/result.h"

namespace tf::pipeline {

// `comments`: reviewers' comments after the notes, marked [^cN] where they are anchored.
Result<std::string> docx_to_text(const std::string& bytes, bool comments = false);
// Whether document commands read DOCX comments (--docx-comments: TERRAFERMA_DOCX_COMMENTS=1).
bool docx_comments_wanted();
Result<std::string> odt_to_text(const std::string& bytes);

}  // namespace tf::pipeline
