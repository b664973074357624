// E-mail (RFC 5322 / MIME) as the pipeline reads it, with GMime (Debian's libgmime-3.0): the
// headers people read (From, To, Cc, Date, Subject — encoded words decoded), the body (text/plain,
// else text/html as text; the part's charset decoded), then each attachment as a section of its
// own, read by the same readers as a file (a PDF invoice attached to a mail is read as a PDF; a
// forwarded message as a mail, two levels deep at most).
#include "pipeline/email_text.h"

#include <gmime/gmime.h>

#include <memory>
#include <mutex>

#include "pipeline/text_encoding.h"

namespace tf::pipeline {

namespace {

struct Unref {
    void operator()(gpointer p) const {
        if (p) g_object_unref(p);
    }
};
template <typename T>
using Ref = std::unique_ptr<T, Unref>;

std::string take(gchar* s) {
    std::string out = s ? s : "";
    g_free(s);
    return out;
}

// The decoded bytes of a leaf part (base64 and quoted-printable undone).
std::string content_of(GMimePart* part) {
    GMimeDataWrapper* w = g_mime_part_get_content(part);
    if (w == nullptr) return "";
    Ref<GMimeStream> mem(g_mime_stream_mem_new());
    g_mime_data_wrapper_write_to_stream(w, mem.get());
    GByteArray* ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
    return ba ? std::string(reinterpret_cast<const char*>(ba->data), ba->len) : std::string();
}

struct Walk {
    std::string plain, html;
    std::string plain_charset, html_charset;
    std::vector<MailAttachment> attachments;
};

void walk(GMimeObject* obj, Walk& w, int depth) {
    if (obj == nullptr || depth > 32) return;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart* mp = GMIME_MULTIPART(obj);
        const int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), w, depth + 1);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {  // a forwarded message: an attachment read as a mail
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner == nullptr) return;
        Ref<GMimeStream> mem(g_mime_stream_mem_new());
        g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, mem.get());
        GByteArray* ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
        const char* subject = g_mime_message_get_subject(inner);
        w.attachments.push_back({std::string(subject ? subject : "message") + ".eml", "message/rfc822",
                                 ba ? std::string(reinterpret_cast<const char*>(ba->data), ba->len) : std::string()});
        return;
    }
    if (!GMIME_IS_PART(obj)) return;
    GMimePart* part = GMIME_PART(obj);
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    const std::string type = ct ? take(g_mime_content_type_get_mime_type(ct)) : "text/plain";
    const char* charset = ct ? g_mime_content_type_get_parameter(ct, "charset") : nullptr;
    const char* filename = g_mime_part_get_filename(part);
    const bool attachment = g_mime_part_is_attachment(part) || (filename != nullptr && type.rfind("text/", 0) != 0);
    if (!attachment && type == "text/plain" && w.plain.empty()) {
        w.plain = content_of(part);
        w.plain_charset = charset ? charset : "";
    } else if (!attachment && type == "text/html" && w.html.empty()) {
        w.html = content_of(part);
        w.html_charset = charset ? charset : "";
    } else if (attachment || filename != nullptr) {
        w.attachments.push_back({filename ? filename : "attachment", type, content_of(part)});
    }
}

}  // namespace

Result<Mail> parse_mail(const std::string& bytes) {
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
    Ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
    Ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    Ref<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
    if (!msg) return Error{"not an e-mail message (no RFC 5322 header block)"};
    Mail m;
    auto addresses = [&](const char* name, InternetAddressList* list) {
        if (list == nullptr || internet_address_list_length(list) == 0) return;
        m.headers.emplace_back(name, take(internet_address_list_to_string(list, nullptr, FALSE)));
    };
    addresses("From", g_mime_message_get_from(msg.get()));
    addresses("To", g_mime_message_get_to(msg.get()));
    addresses("Cc", g_mime_message_get_cc(msg.get()));
    if (GDateTime* date = g_mime_message_get_date(msg.get()))
        m.headers.emplace_back("Date", take(g_date_time_format_iso8601(date)));
    if (const char* subject = g_mime_message_get_subject(msg.get())) m.headers.emplace_back("Subject", subject);
    Walk w;
    walk(g_mime_message_get_mime_part(msg.get()), w, 0);
    if (!w.plain.empty() || w.html.empty()) {
        auto t = decode_text(w.plain, w.plain_charset);
        m.body = t ? valid_utf8(t->text) : valid_utf8(w.plain);
    } else {
        auto t = decode_text(w.html, w.html_charset.empty() ? html_declared_charset(w.html) : w.html_charset);
        m.body = html_to_text(t ? t->text : w.html);
    }
    m.attachments = std::move(w.attachments);
    if (m.headers.empty() && m.body.empty() && m.attachments.empty())
        return Error{"not an e-mail message (no headers, body or attachment)"};
    return m;
}

std::string mail_to_text(const Mail& m,
                         const std::function<Result<std::string>(const MailAttachment&)>& read_attachment) {
    std::string out;
    for (const auto& [k, v] : m.headers) out += k + ": " + v + "\n";
    out += "\n" + m.body;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    out += "\n";
    for (const MailAttachment& a : m.attachments) {
        out += "\n## Attachment: " + a.filename + "\n\n";
        auto text = read_attachment(a);
        out += text ? *text : "(not read: " + text.error().message + ")";
        while (!out.empty() && out.back() == '\n') out.pop_back();
        out += "\n";
    }
    return out;
}

}  // namespace tf::pipeline
