// Which SIMD paths this CPU can run, detected once at run time (the binary is built for plain
// x86-64; faster paths are compiled per function with target attributes).
#pragma once

#include <string>

namespace tf::kernels {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();
bool isa_supported(Isa isa);
Isa best_isa();                        // overridable with TF_ISA=scalar|avx2|avx512 (for tests and benchmarks)
const char* isa_name(Isa isa);
std::string cpu_features_string();     // "avx2 fma f16c avx512f … avx512vnni"

}  // namespace tf::kernels
