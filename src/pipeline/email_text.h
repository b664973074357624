// E-mail messages (.eml: RFC 5322 with MIME) as text: the headers people read, the body, and
// each attachment read as a file of its own would be. See email_text.cpp.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "util/result.h"

namespace tf::pipeline {

struct MailAttachment {
    std::string filename;
    std::string content_type;
    std::string bytes;  // transfer encoding undone
};

struct Mail {
    std::vector<std::pair<std::string, std::string>> headers;  // From, To, Cc, Date, Subject (decoded)
    std::string body;                                          // UTF-8 text
    std::vector<MailAttachment> attachments;                   // in the message's order
};

Result<Mail> parse_mail(const std::string& bytes);

// Headers, a blank line, the body, then "## Attachment: NAME" and the text `read_attachment`
// gives (or why it could not) for each attachment.
std::string mail_to_text(const Mail& m,
                         const std::function<Result<std::string>(const MailAttachment&)>& read_attachment);

}  // namespace tf::pipeline
