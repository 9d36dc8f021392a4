// CPU feature bits that __builtin_cpu_supports cannot name on every compiler: clang 14 (the fuzz
// and ThreadSanitizer builds) does not know "f16c", so it is read from CPUID directly; so is
// avx512_vnni.
#pragma once

#include <cpuid.h>

namespace ladle::model {

// F16C (vcvtph2ps / vcvtps2ph): CPUID leaf 1, ECX bit 29.
inline bool cpu_supports_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}

// AVX-512 VNNI (vpdpbusd): CPUID leaf 7 subleaf 0, ECX bit 11. Only meaningful where AVX-512
// itself is usable (model/isa.h checks that, OS state included).
inline bool cpu_supports_avx512_vnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 11)) != 0;
}

}  // namespace ladle::model
