// libFuzzer target for text files' bytes as they arrive: any bytes, with or without a byte-order
// mark, under any declared charset (the first byte picks one), decoded to UTF-8 or refused with
// an error — and what is returned is valid UTF-8. Also the HTML meta-charset sniffer.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pipeline/text_encoding.h"
#include "tokenizer/unicode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const char* const kDeclared[] = {"",          "utf-8",  "iso-8859-1", "windows-1250",
                                            "shift_jis", "utf-16", "koi8-r",     "no-such-charset"};
    const std::string_view declared = kDeclared[data[0] % (sizeof kDeclared / sizeof kDeclared[0])];
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    auto decoded = tf::pipeline::decode_text(bytes, declared);
    if (decoded && !tf::tok::utf8_valid(decoded->text)) std::abort();
    (void)tf::pipeline::html_declared_charset(bytes);
    return 0;
}
