#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model {

namespace {

// NOTE(sampler): the softmax numerators e_i = exp((l_i - max) / T) are the sampler's only heavy
// arithmetic (a 32000-token vocabulary per sequence per step). They use our own exp — range
// reduction by ln 2 and a degree-6 polynomial, all in fused multiply-adds — so that the AVX2 loop
// and the portable loop below produce the same bits, and a seeded request draws the same tokens
// on any x86-64. Its relative error is below 2^-22 over the range used (x <= 0). The sum runs in
// eight interleaved lanes, then a fixed pairwise tree, in both loops.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;      // ln 2 split so n·kLn2Hi is exact for |n| < 2^9
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpUnderflow = -87.0f;     // below this e^x is flushed to 0 (2^-125 ≈ 2.4e-38)

float exp_portable(float x) {
  if (!(x >= kExpUnderflow)) return 0.0f;
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(-n, kLn2Hi, x);
  r = std::fma(-n, kLn2Lo, r);
  float p = 1.0f / 720;
  p = std::fma(p, r, 1.0f / 120);
  p = std::fma(p, r, 1.0f / 24);
  p = std::fma(p, r, 1.0f / 6);
  p = std::fma(p, r, 0.5f);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  const std::uint32_t bits = std::uint32_t(int(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

float reduce_lanes(const float* l) {
  const float s0 = l[0] + l[4], s1 = l[1] + l[5], s2 = l[2] + l[6], s3 = l[3] + l[7];
  return (s0 + s2) + (s1 + s3);
}

// e[i] = exp((l[i] - max) * inv_t); returns Σ e[i] in the fixed lane order.
float softmax_numerators_portable(const float* l, std::size_t n, float max, float inv_t, float* e) {
  float lane[8] = {};
  for (std::size_t i = 0; i < n; ++i) {
    e[i] = exp_portable((l[i] - max) * inv_t);
    lane[i % 8] += e[i];
  }
  return reduce_lanes(lane);
}

float max_portable(const float* l, std::size_t n) {
  float m = l[0];
  for (std::size_t i = 1; i < n; ++i) m = l[i] > m ? l[i] : m;
  return m;
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")

__m256 exp_avx2(__m256 x) {
  const __m256 live = _mm256_cmp_ps(x, _mm256_set1_ps(kExpUnderflow), _CMP_GE_OQ);
  x = _mm256_max_ps(x, _mm256_set1_ps(kExpUnderflow));  // keeps the exponent below in range
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), live);
}

float softmax_numerators_avx2(const float* l, std::size_t n, float max, float inv_t, float* e) {
  const __m256 vmax = _mm256_set1_ps(max), vinv = _mm256_set1_ps(inv_t);
  __m256 acc = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = exp_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(l + i), vmax), vinv));
    _mm256_storeu_ps(e + i, v);
    acc = _mm256_add_ps(acc, v);
  }
  alignas(32) float lane[8];
  _mm256_store_ps(lane, acc);
  for (; i < n; ++i) {  // i % 8 continues the lane pattern
    e[i] = exp_portable((l[i] - max) * inv_t);
    lane[i % 8] += e[i];
  }
  return reduce_lanes(lane);
}

float max_avx2(const float* l, std::size_t n) {
  if (n < 8) return max_portable(l, n);
  __m256 m = _mm256_loadu_ps(l);
  std::size_t i = 8;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(l + i));
  alignas(32) float lane[8];
  _mm256_store_ps(lane, m);
  float r = max_portable(lane, 8);
  for (; i < n; ++i) r = l[i] > r ? l[i] : r;
  return r;
}

#pragma GCC pop_options

bool has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
const bool kAvx2 = has_avx2_fma();
#else
constexpr bool kAvx2 = false;
#endif

float max_of(const float* l, std::size_t n) {
#if defined(__x86_64__)
  if (kAvx2) return max_avx2(l, n);
#endif
  return max_portable(l, n);
}

}  // namespace

float sampler_exp(float x) { return exp_portable(x); }

float softmax_numerators(std::span<const float> logits, float max, float inv_t, float* e, bool portable) {
#if defined(__x86_64__)
  if (kAvx2 && !portable) return softmax_numerators_avx2(logits.data(), logits.size(), max, inv_t, e);
#endif
  return softmax_numerators_portable(logits.data(), logits.size(), max, inv_t, e);
}

TokenId argmax(std::span<const float> logits) {
  // The maximum first (vectorised), then its first index: the same token as a scalar scan for any
  // input without NaN; with a NaN the scan below finds no match and falls back to run.c's loop.
  const float m = max_of(logits.data(), logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    if (logits[i] == m) return TokenId(i);
  TokenId best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = TokenId(i);
  return best;
}

Sampler::Sampler(SamplerConfig cfg, std::uint64_t seed) : cfg_(cfg) {
  // splitmix64 of the seed: a zero or small seed still starts xorshift* from a good state.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  state_ = (z ^ (z >> 31)) | 1;
}

float Sampler::next_uniform() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return float((state_ * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

TokenId Sampler::sample(std::span<const float> logits) {
  if (cfg_.temperature <= 0.0f || logits.size() == 1) return argmax(logits);
  const std::size_t n = logits.size();
  // Unnormalised softmax of logits / T: e_i in (0, 1], e_max = 1, and their sum. Every
  // probability below is e_i / sum; masses are compared against fractions of sum.
  probs_.resize(n);
  const float max_val = max_of(logits.data(), n);
  const float sum = softmax_numerators(logits, max_val, 1.0f / cfg_.temperature, probs_.data(), false);

  const bool top_k = cfg_.top_k > 0 && std::size_t(cfg_.top_k) < n;
  if (!top_k && cfg_.top_p >= 1.0f && cfg_.min_p <= 0.0f) {  // multinomial over ids in order, as run.c
    const float r = next_uniform() * sum;
    float cdf = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      cdf += probs_[i];
      if (r < cdf) return TokenId(i);
    }
    return TokenId(n - 1);
  }
  // NOTE(sampler): candidates first, then sort only them. Tokens below min_p · p_max can never
  // be kept; and (as run.c observes) tokens with p < (1 - top_p) / (n - 1) together hold less than
  // 1 - top_p, so the nucleus — the most probable tokens up to mass top_p — never reaches them.
  // Dropping both before sorting leaves the same kept set as sorting the whole vocabulary, at a
  // fraction of the cost (a full sort of 32000 ids took milliseconds per token).
  float floor = 0.0f;
  if (cfg_.min_p > 0.0f) floor = cfg_.min_p;  // × e_max = 1
  if (cfg_.top_p < 1.0f) floor = std::max(floor, (1.0f - cfg_.top_p) / float(n - 1) * sum);
  // The most probable token (e = 1 exactly) always stays: with it kept, the dropped tokens number
  // at most n - 1, which is what the bound above needs.
  floor = std::min(floor, 1.0f);
  // min-p is a threshold on e (e_max = 1), so it is already applied by `floor` and commutes with
  // top-k. What remains is the prefix of the candidates in (e descending, id ascending) order that
  // top-k and top-p keep.
  cand_.clear();
  for (std::size_t i = 0; i < n; ++i)
    if (probs_[i] >= floor) cand_.push_back({probs_[i], TokenId(i)});
  const std::size_t max_keep = top_k ? std::size_t(cfg_.top_k) : cand_.size();
  const float target = cfg_.top_p < 1.0f ? cfg_.top_p * sum : INFINITY;
  const std::size_t keep = select_prefix(max_keep, target);
  float kept_mass = 0.0f;
  for (std::size_t k = 0; k < keep; ++k) kept_mass += cand_[k].e;
  const float r = next_uniform() * kept_mass;
  float cdf = 0.0f;
  for (std::size_t k = 0; k < keep; ++k) {
    cdf += cand_[k].e;
    if (r < cdf) return cand_[k].id;
  }
  return cand_[keep - 1].id;
}

// NOTE(sampler): a full sort of a flat 32000-token distribution took milliseconds per token, so
// the prefix is found by bucketing instead. The bucket of a positive float is the top bits of its
// representation (exponent and 5 mantissa bits), which orders like the value. Whole buckets are
// taken from the top while the count stays under max_keep and the mass under target; only the
// bucket where the prefix ends is sorted. On return cand_[0, keep) holds the kept tokens: the
// whole buckets in id order, then the boundary bucket's prefix in (e desc, id asc) order.
std::size_t Sampler::select_prefix(std::size_t max_keep, float target) {
  auto bucket_of = [](float e) {
    std::uint32_t bits;
    std::memcpy(&bits, &e, sizeof bits);
    return bits >> 18;
  };
  const std::uint32_t top = bucket_of(1.0f);
  std::uint32_t low = top;
  for (const Candidate& c : cand_) low = std::min(low, bucket_of(c.e));
  bucket_count_.assign(top - low + 1, 0);
  bucket_mass_.assign(top - low + 1, 0.0f);
  for (const Candidate& c : cand_) {
    const std::uint32_t b = bucket_of(c.e) - low;
    ++bucket_count_[b];
    bucket_mass_[b] += c.e;
  }
  // Whole buckets above the boundary.
  std::size_t count = 0;
  float mass = 0.0f;
  std::uint32_t b = top - low;
  for (;; --b) {
    if (count + bucket_count_[b] > max_keep || mass + bucket_mass_[b] >= target || b == 0) break;
    count += bucket_count_[b];
    mass += bucket_mass_[b];
  }
  const std::uint32_t boundary = b + low;
  // Stable partition: above-boundary tokens first (id order kept), then the boundary bucket.
  auto above_end = std::stable_partition(cand_.begin(), cand_.end(), [&](const Candidate& c) { return bucket_of(c.e) > boundary; });
  auto edge_end = std::partition(above_end, cand_.end(), [&](const Candidate& c) { return bucket_of(c.e) == boundary; });
  std::sort(above_end, edge_end, [](const Candidate& x, const Candidate& y) { return x.e > y.e || (x.e == y.e && x.id < y.id); });
  std::size_t keep = count;
  for (auto it = above_end; it != edge_end && keep < max_keep; ++it) {
    ++keep;
    if ((mass += it->e) >= target) break;
  }
  return std::max<std::size_t>(keep, 1);
}

}  // namespace ladle::model
