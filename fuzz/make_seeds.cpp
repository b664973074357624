// Writes a seed corpus for the GGUF fuzzer: small synthetic files covering every value type and
// many tensor types, plus shrunken copies of real files (metadata kept, arrays and tensors cut
// down) so the fuzzer starts from realistic key names and layouts while staying small.
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf/file.h"
#include "gguf/writer.h"

using namespace tf;
using gguf::Value;

static void write(gguf::Writer& w, const std::filesystem::path& p) {
    auto st = w.write(p.string());
    if (!st.ok()) std::fprintf(stderr, "make_seeds: %s\n", st.error().message.c_str());
}

static Value shrink(const Value& v) {
    if (!v.is_array()) return v;
    const uint64_t keep = std::min<uint64_t>(v.array_size(), 16);
    if (v.array_type() == gguf::ValueType::STRING) {
        return Value::string_array({v.array_strings().begin(), v.array_strings().begin() + static_cast<long>(keep)});
    }
    if (v.array_type() == gguf::ValueType::ARRAY) {
        std::vector<Value> items;
        for (uint64_t i = 0; i < keep; ++i) items.push_back(shrink(v.array_values()[i]));
        return Value::nested_array(std::move(items));
    }
    size_t esz = gguf::value_type_scalar_size(v.array_type());
    std::vector<uint8_t> packed(v.array_packed().begin(), v.array_packed().begin() + static_cast<long>(keep * esz));
    return Value::scalar_array(v.array_type(), std::move(packed), keep);
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: make_seeds OUT_DIR [GGUF...]\n");
        return 2;
    }
    std::filesystem::path out = argv[1];
    std::filesystem::create_directories(out);

    gguf::Writer all;
    all.set("general.architecture", Value::string("llama"));
    all.set("t.u8", Value::u8(1));
    all.set("t.i8", Value::i8(-1));
    all.set("t.u16", Value::u16(2));
    all.set("t.i16", Value::i16(-2));
    all.set("t.u32", Value::u32(3));
    all.set("t.i32", Value::i32(-3));
    all.set("t.f32", Value::f32(0.5f));
    all.set("t.bool", Value::boolean(true));
    all.set("t.str", Value::string("s"));
    all.set("t.u64", Value::u64(4));
    all.set("t.i64", Value::i64(-4));
    all.set("t.f64", Value::f64(0.25));
    all.set("t.strs", Value::string_array({"a", "bc"}));
    all.set("t.nested", Value::nested_array({Value::i32_array({1}), Value::string_array({"x"})}));
    write(all, out / "all-value-types.gguf");

    for (uint32_t id = 0; id < 43; ++id) {
        const TensorTypeInfo* info = tensor_type_info(id);
        if (info == nullptr) continue;
        gguf::Writer w;
        w.set("general.alignment", Value::u32(32));
        gguf::TensorToWrite t;
        t.name = "w";
        t.type = info->type;
        t.dims = {info->block_size, 2};
        t.owned.assign(info->type_size * 2, 0x11);
        w.add_tensor(t);
        t.name = "b";
        t.dims = {info->block_size};
        t.owned.assign(info->type_size, 0x22);
        w.add_tensor(t);
        write(w, out / ("type-" + std::string(info->name) + ".gguf"));
    }

    for (int i = 2; i < argc; ++i) {
        auto f = gguf::File::open(argv[i]);
        if (!f.ok()) continue;
        gguf::Writer w;
        for (const auto& kv : f->metadata()) w.set(kv.key, shrink(kv.value));
        int n = 0;
        for (const auto& ti : f->tensors()) {
            if (n++ >= 6) break;
            const auto& info = tensor_type_info(ti.type);
            gguf::TensorToWrite t;
            t.name = ti.name;
            t.type = ti.type;
            t.dims = {info.block_size};
            t.owned.assign(ti.data.begin(), ti.data.begin() + info.type_size);
            w.add_tensor(t);
        }
        write(w, out / ("shrunk-" + std::filesystem::path(argv[i]).filename().string()));
    }
    return 0;
}
