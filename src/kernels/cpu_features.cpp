#include "kernels/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace tf::kernels {

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = [] {
        CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        c.avx2 = __builtin_cpu_supports("avx2");
        c.fma = __builtin_cpu_supports("fma");
        c.f16c = __builtin_cpu_supports("f16c");
        c.avx512f = __builtin_cpu_supports("avx512f");
        c.avx512bw = __builtin_cpu_supports("avx512bw");
        c.avx512vl = __builtin_cpu_supports("avx512vl");
        c.avx512dq = __builtin_cpu_supports("avx512dq");
        c.avx512vnni = __builtin_cpu_supports("avx512vnni");
        c.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
        return c;
    }();
    return f;
}

bool isa_supported(Isa isa) {
    const auto& c = cpu_features();
    switch (isa) {
        case Isa::Scalar: return true;
        case Isa::Avx2: return c.avx2 && c.fma && c.f16c;
        case Isa::Avx512: return c.avx2 && c.fma && c.f16c && c.avx512f && c.avx512bw && c.avx512vl && c.avx512vnni;
    }
    return false;
}

Isa best_isa() {
    static const Isa chosen = [] {
        if (const char* env = std::getenv("TF_ISA"); env != nullptr && *env) {
            if (!std::strcmp(env, "scalar")) return Isa::Scalar;
            if (!std::strcmp(env, "avx2") && isa_supported(Isa::Avx2)) return Isa::Avx2;
            if (!std::strcmp(env, "avx512") && isa_supported(Isa::Avx512)) return Isa::Avx512;
        }
        if (isa_supported(Isa::Avx512)) return Isa::Avx512;
        if (isa_supported(Isa::Avx2)) return Isa::Avx2;
        return Isa::Scalar;
    }();
    return chosen;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
    }
    return "?";
}

std::string cpu_features_string() {
    const auto& c = cpu_features();
    std::string s;
    auto add = [&](bool on, const char* name) {
        if (!on) return;
        if (!s.empty()) s += ' ';
        s += name;
    };
    add(c.avx2, "avx2");
    add(c.fma, "fma");
    add(c.f16c, "f16c");
    add(c.avx512f, "avx512f");
    add(c.avx512bw, "avx512bw");
    add(c.avx512vl, "avx512vl");
    add(c.avx512vnni, "avx512vnni");
    add(c.avx512bf16, "avx512bf16");
    return s.empty() ? "none" : s;
}

}  // namespace tf::kernels
