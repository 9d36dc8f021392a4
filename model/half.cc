#include "model/half.h"

#include "model/cpu_features.h"
#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model {

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

float float_of(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

bool half_is_finite(Half h) { return (h & 0x7c00) != 0x7c00; }

// Halves [2^-24, 2^-14): q units of 2^-24 from a float below the smallest normal half, rounded to
// nearest even in integer arithmetic (no dependence on the FPU's rounding mode or FTZ/DAZ).
Half subnormal_half(std::uint32_t a) {
  const int e = int(a >> 23);                       // float biased exponent, 102..112 here
  const std::uint32_t mant = (a & 0x7fffff) | 0x800000;
  const int shift = 126 - e;                        // 14..24
  std::uint32_t q = mant >> shift;
  const std::uint32_t rem = mant & ((1u << shift) - 1), half_ulp = 1u << (shift - 1);
  if (rem > half_ulp || (rem == half_ulp && (q & 1))) ++q;  // may carry into 0x400: the smallest normal
  return Half(q);
}

std::size_t floats_to_halves_scalar(const float* in, Half* out, std::size_t n) {
  std::size_t bad = n;
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = float_to_half(in[i]);
    if (bad == n && !half_is_finite(out[i])) bad = i;
  }
  return bad;
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,f16c")

std::size_t floats_to_halves_f16c(const float* in, Half* out, std::size_t n) {
  std::size_t i = 0, bad = n;
  const __m256i exp_mask = _mm256_set1_epi32(0x7c00);
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    const __m256i e = _mm256_and_si256(_mm256_cvtepu16_epi32(h), exp_mask);
    if (bad == n && !_mm256_testz_si256(_mm256_cmpeq_epi32(e, exp_mask), _mm256_set1_epi32(-1)))
      for (std::size_t j = i; j < i + 8 && bad == n; ++j)
        if (!half_is_finite(out[j])) bad = j;
  }
  const std::size_t tail_bad = floats_to_halves_scalar(in + i, out + i, n - i);
  return bad != n ? bad : i + tail_bad;
}

void halves_to_floats_f16c(const Half* in, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  for (; i < n; ++i) out[i] = half_to_float(in[i]);
}

#pragma GCC pop_options

bool cpu_has_f16c() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && cpu_supports_f16c();
}
#else
bool cpu_has_f16c() { return false; }
#endif

const bool kHasF16c = cpu_has_f16c();

}  // namespace

float half_to_float(Half h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000) << 16;
  const std::uint32_t e = (h >> 10) & 0x1f;
  std::uint32_t m = h & 0x3ff;
  if (e == 0x1f) return float_of(sign | 0x7f800000 | (m != 0 ? 0x400000 : 0) | (m << 13));
  if (e != 0) return float_of(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return float_of(sign);
  std::uint32_t fe = 113;  // subnormal m·2^-24: shift the leading one up to the implicit bit
  while ((m & 0x400) == 0) m <<= 1, --fe;
  return float_of(sign | (fe << 23) | ((m & 0x3ff) << 13));
}

Half float_to_half(float f) {
  const std::uint32_t b = bits_of(f);
  const Half sign = Half((b >> 16) & 0x8000);
  const std::uint32_t a = b & 0x7fffffff;
  if (a > 0x7f800000) return Half(sign | 0x7e00 | ((a >> 13) & 0x3ff));  // NaN, quieted
  if (a >= 0x477ff000) return Half(sign | 0x7c00);  // ≥ 65520 (the tie above 65504 goes to even: inf)
  if (a >= 0x38800000) {                            // normal half: rebias the exponent, round to even
    const std::uint32_t r = a - 0x38000000 + 0xfff + ((a >> 13) & 1);
    return Half(sign | (r >> 13));
  }
  if (a <= 0x33000000) return sign;  // at most 2^-25, half of the smallest subnormal: the tie goes to 0
  return Half(sign | subnormal_half(a));
}

std::size_t floats_to_halves(std::span<const float> in, std::span<Half> out) {
#if defined(__x86_64__)
  if (kHasF16c) return floats_to_halves_f16c(in.data(), out.data(), in.size());
#endif
  return floats_to_halves_scalar(in.data(), out.data(), in.size());
}

void halves_to_floats(std::span<const Half> in, std::span<float> out) {
#if defined(__x86_64__)
  if (kHasF16c) return halves_to_floats_f16c(in.data(), out.data(), in.size());
#endif
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = half_to_float(in[i]);
}

bool half_uses_f16c() { return kHasF16c; }

}  // namespace ladle::model
