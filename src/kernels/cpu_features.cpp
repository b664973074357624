#include "kernels/cpu_features.h"

#include <cstdlib>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace tf::kernels {

namespace {

#if defined(__x86_64__) || defined(__i386__)
// XCR0: which register states the OS saves on context switch (AVX needs YMM, AVX-512 needs ZMM).
uint64_t read_xcr0() {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = [] {
        CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
        unsigned a, b, cx, d;
        if (!__get_cpuid(1, &a, &b, &cx, &d)) return c;
        const bool osxsave = (cx >> 27) & 1;
        const bool avx = (cx >> 28) & 1;
        c.fma = (cx >> 12) & 1;
        c.f16c = (cx >> 29) & 1;
        const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
        const bool ymm_ok = avx && (xcr0 & 0x6) == 0x6;
        const bool zmm_ok = ymm_ok && (xcr0 & 0xE0) == 0xE0;
        unsigned a7, b7, c7, d7;
        if (__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) {
            c.avx2 = ymm_ok && ((b7 >> 5) & 1);
            c.avx512f = zmm_ok && ((b7 >> 16) & 1);
            c.avx512dq = zmm_ok && ((b7 >> 17) & 1);
            c.avx512bw = zmm_ok && ((b7 >> 30) & 1);
            c.avx512vl = zmm_ok && ((b7 >> 31) & 1);
            c.avx512vnni = zmm_ok && ((c7 >> 11) & 1);
            unsigned a71, b71, c71, d71;
            if (__get_cpuid_count(7, 1, &a71, &b71, &c71, &d71)) c.avx512bf16 = zmm_ok && ((a71 >> 5) & 1);
        }
        c.fma = c.fma && ymm_ok;
        c.f16c = c.f16c && ymm_ok;
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
