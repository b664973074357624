// libFuzzer target for word processing files as they arrive: the first byte picks the reader
// (DOCX or ODT — zip archives whose members are XML), the rest is the file. Each returns text
// or an error; no crash, no stack exhaustion on deep nesting, no runaway memory.
#include <cstdint>
#include <string>

#include "pipeline/word_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] % 2 == 0)
        (void)tf::pipeline::docx_to_text(bytes);
    else
        (void)tf::pipeline::odt_to_text(bytes);
    return 0;
}
