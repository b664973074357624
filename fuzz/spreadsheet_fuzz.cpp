// libFuzzer target for spreadsheets and delimited text as they arrive: the first byte picks the
// reader (XLSX, ODS — zip archives whose members are XML — or CSV), the rest is the file. Each
// either returns text or an error; no crash, no hang, no runaway memory (members are capped).
#include <cstdint>
#include <string>

#include "pipeline/spreadsheet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 3) {
        case 0:
            (void)tf::pipeline::xlsx_to_text(bytes);
            break;
        case 1:
            (void)tf::pipeline::ods_to_text(bytes);
            break;
        default:
            (void)tf::pipeline::csv_to_text(bytes);
            break;
    }
    return 0;
}
