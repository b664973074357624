// libFuzzer target for the GGUF reader: any byte string must parse or fail with a message —
// never crash, leak, or trip a sanitizer. When it parses, writing it back must give a file that
// parses again and is a fixed point of read+write.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "gguf/file.h"
#include "gguf/writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto f = tf::gguf::File::parse(std::span<const uint8_t>(data, size), "fuzz");
    if (!f.ok()) {
        if (f.error().message.empty()) std::abort();
        return 0;
    }
    for (const auto& kv : f->metadata()) (void)kv.value.to_display_string();
    auto once = tf::gguf::Writer::from_file(*f).write_to_memory();
    if (!once.ok()) std::abort();
    auto g = tf::gguf::File::parse(*once, "fuzz-rewritten");
    if (!g.ok()) std::abort();
    auto twice = tf::gguf::Writer::from_file(*g).write_to_memory();
    if (!twice.ok() || *twice != *once) std::abort();
    return 0;
}
