#include "model/logprobs.h"

#include <cmath>
#include <limits>

#include "model/vec8.h"

namespace ladle::model {

namespace {

using namespace vec8;
using D4 = double __attribute__((vector_size(32)));

constexpr float kInf = std::numeric_limits<float>::infinity();

LADLE_INLINE float max_lane(V8 v) {
  float m = v[0];
  for (int j = 1; j < 8; ++j) m = v[j] > m ? v[j] : m;
  return m;
}

// The row's maximum, NaN ignored (-inf for a row of NaN).
LADLE_INLINE float max_body(const float* l, std::size_t n) {
  V8 mv = splat(-kInf);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V8 v = load8(l + i);
    mv = v > mv ? v : mv;
  }
  float m = max_lane(mv);
  for (; i < n; ++i) m = l[i] > m ? l[i] : m;
  return m;
}

// Σ e^{l_i − m}: each term by vec8's exp in float, widened exactly and summed in eight double
// lanes, then the lanes in a fixed order, so the result does not depend on the build.
LADLE_INLINE double sum_exp_body(const float* l, std::size_t n, float m) {
  D4 lo = {}, hi = {};
  for (std::size_t i = 0; i < n; i += 8) {
    const int cnt = n - i < 8 ? int(n - i) : 8;
    V8 e = exp8((cnt == 8 ? load8(l + i) : load_n(l + i, cnt)) - splat(m));
    for (int j = cnt; j < 8; ++j) e[j] = 0;
    lo += __builtin_convertvector(__builtin_shufflevector(e, e, 0, 1, 2, 3), D4);
    hi += __builtin_convertvector(__builtin_shufflevector(e, e, 4, 5, 6, 7), D4);
  }
  const D4 s = lo + hi;
  return (s[0] + s[2]) + (s[1] + s[3]);
}

LADLE_INLINE double log_sum_exp_body(const float* l, std::size_t n) {
  if (n == 0) return -std::numeric_limits<double>::infinity();
  const float m = max_body(l, n);
  if (!std::isfinite(m)) return m;
  return double(m) + std::log(sum_exp_body(l, n, m));
}

[[gnu::target("avx2")]] double log_sum_exp_avx2(const float* l, std::size_t n) { return log_sum_exp_body(l, n); }
double log_sum_exp_baseline(const float* l, std::size_t n) { return log_sum_exp_body(l, n); }

const auto kLogSumExp = cpu_has_avx2() ? log_sum_exp_avx2 : log_sum_exp_baseline;

// Whether (va, a) ranks before (vb, b): larger logit first, then lower id; NaN after any number.
bool ranks_before(float va, TokenId a, float vb, TokenId b) {
  if (std::isnan(va) || std::isnan(vb)) return std::isnan(va) == std::isnan(vb) ? a < b : !std::isnan(va);
  return va > vb || (va == vb && a < b);
}

// Inserts token i (logit v) into the ranked out[0, k), keeping at most n.
void insert_ranked(const float* l, TokenId* out, int& k, int n, TokenId i) {
  int at = k < n ? k : n - 1;  // where the last kept would be overwritten
  if (k == n && !ranks_before(l[i], i, l[out[n - 1]], out[n - 1])) return;
  while (at > 0 && ranks_before(l[i], i, l[out[at - 1]], out[at - 1])) {
    out[at] = out[at - 1];
    --at;
  }
  out[at] = i;
  if (k < n) ++k;
}

// NOTE(model): a 32000-logit row with n <= 20 needs only a few dozen insertions; the rest is the
// scan. Blocks of 64 logits are first reduced to their maximum with vector compares, and a block
// is looked at one logit at a time only if that maximum reaches the current n-th logit.
constexpr std::size_t kBlock = 64;

LADLE_INLINE int top_tokens_body(const float* l, std::size_t size, int n, TokenId* out) {
  int k = 0;
  std::size_t i = 0;
  for (; i < size && k < n; ++i) insert_ranked(l, out, k, n, TokenId(i));
  if (k < n) return k;
  auto floor = [&] {  // the n-th kept logit as a threshold (a NaN one: any number beats it)
    const float v = l[out[n - 1]];
    return std::isnan(v) ? -kInf : v;
  };
  for (; i + kBlock <= size; i += kBlock) {
    V8 mv = splat(-kInf);
    for (std::size_t j = 0; j < kBlock; j += 8) {
      const V8 v = load8(l + i + j);
      mv = v > mv ? v : mv;
    }
    if (max_lane(mv) < floor()) continue;
    for (std::size_t j = 0; j < kBlock; ++j) insert_ranked(l, out, k, n, TokenId(i + j));
  }
  for (; i < size; ++i) insert_ranked(l, out, k, n, TokenId(i));
  return k;
}

[[gnu::target("avx2")]] int top_tokens_avx2(const float* l, std::size_t size, int n, TokenId* out) {
  return top_tokens_body(l, size, n, out);
}
int top_tokens_baseline(const float* l, std::size_t size, int n, TokenId* out) {
  return top_tokens_body(l, size, n, out);
}

const auto kTopTokens = cpu_has_avx2() ? top_tokens_avx2 : top_tokens_baseline;

}  // namespace

double log_sum_exp(std::span<const float> logits, bool portable) {
  return (portable ? log_sum_exp_baseline : kLogSumExp)(logits.data(), logits.size());
}

int top_tokens(std::span<const float> logits, int n, TokenId* out) {
  if (n <= 0) return 0;
  return kTopTokens(logits.data(), logits.size(), n, out);
}

}  // namespace ladle::model
