// libFuzzer target for e-mail as it arrives: any bytes parsed as an RFC 5322/MIME message
// (headers, nested multiparts, transfer encodings, charsets, forwarded messages) and rendered
// as text; attachments are only counted here (their readers have targets of their own).
#include <cstdint>
#include <string>

#include "pipeline/email_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    auto mail = tf::pipeline::parse_mail(bytes);
    if (mail) {
        (void)tf::pipeline::mail_to_text(*mail, [](const tf::pipeline::MailAttachment& a) -> tf::Result<std::string> {
            return std::to_string(a.bytes.size()) + " bytes";
        });
    }
    return 0;
}
