// Vectors of 8 floats for the element-wise kernels (attention, the SwiGLU gate), written once on
// GCC vector types and compiled twice: for AVX2 (one ymm register per V8) inside a
// [[gnu::target("avx2")]] entry point, and for baseline x86-64 (two SSE registers per V8); the
// AVX2 build runs unless the active ISA level (model/isa.h) is portable (an AVX-512 build was no
// faster: model/attention.cc).
//
// NOTE(model): only IEEE add/mul/div/compare/select and exact shuffles, no FMA (ladle_model is
// built with -ffp-contract=off: GCC 12 contracts a*b+c in C++ mode wherever FMA is enabled, as in
// an AVX-512 build or with -march=native), and exp8 is a polynomial made of those same operations, so every
// build produces the same bits: vectorisation changes speed, never results.
// Rule: every function (and lambda) that takes or returns a V8 must be LADLE_INLINE. Kernels are
// entered only through their avx2/portable entry points, so with everything inlined no V8 crosses
// a call boundary; an out-of-line default-target V8 function called from the AVX2 flavour would
// pass its arguments by a different ABI (hence GCC's -Wpsabi note, silenced here) and corrupt
// them — seen at -O0 with lambdas, which always_inline does not reach. Include only from .cc files.
#pragma once

#include <cstdint>
#include <cstring>

#pragma GCC diagnostic ignored "-Wpsabi"

namespace ladle::model::vec8 {

using V8 = float __attribute__((vector_size(32)));
using I8 = std::int32_t __attribute__((vector_size(32)));

#define LADLE_INLINE [[gnu::always_inline]] inline

// Whether this CPU can run the AVX2 flavour of a vec8 kernel (callers add what else theirs needs).
inline bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

LADLE_INLINE V8 splat(float x) { return V8{} + x; }
LADLE_INLINE V8 load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// The first n (< 8) floats at p, zeros after.
LADLE_INLINE V8 load_n(const float* p, int n) {
  V8 v = {};
  for (int i = 0; i < n; ++i) v[i] = p[i];
  return v;
}
LADLE_INLINE void store_n(float* p, V8 v, int n) {
  if (n == 8) std::memcpy(p, &v, sizeof v);
  else
    for (int i = 0; i < n; ++i) p[i] = v[i];
}

// e^x, lane by lane. Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, then the degree-7 Taylor
// polynomial of e^r (truncation error < 1e-8 relative) and 2^n built in the exponent bits. x is
// clamped to [-87, 88] so that 2^n stays a normal float: below, e^-87 (~1e-38) stands for 0;
// above, e^88 (~1.7e38) for +inf. NaN propagates.
LADLE_INLINE V8 exp8(V8 x) {
  x = x < splat(-87.0f) ? splat(-87.0f) : x;
  x = x > splat(88.0f) ? splat(88.0f) : x;
  const V8 magic = splat(12582912.0f);            // 1.5·2^23: adding it rounds to an integer
  const V8 t = x * splat(1.44269504f) + magic;    // n + magic, n = round(x / ln2)
  const V8 n = t - magic;
  V8 r = x - n * splat(0.693359375f);             // ln2 high part: 9 bits, n·hi is exact
  r = r - n * splat(-2.12194440e-4f);             // ln2 low part
  V8 p = splat(1.0f / 5040);
  p = p * r + splat(1.0f / 720);
  p = p * r + splat(1.0f / 120);
  p = p * r + splat(1.0f / 24);
  p = p * r + splat(1.0f / 6);
  p = p * r + splat(0.5f);
  p = p * r + splat(1.0f);
  p = p * r + splat(1.0f);
  const I8 two_n = ((I8)t - 0x4B400000 + 127) << 23;  // t's low mantissa bits hold n
  return p * (V8)two_n;
}

}  // namespace ladle::model::vec8
