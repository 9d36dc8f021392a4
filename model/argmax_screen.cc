#include "model/argmax_screen.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <new>

namespace ladle::model {

namespace {

// An upper bound of the rounding both fma chains (exact and screened) may add, relative to
// Σ|x_k·w_k| ≤ ‖x‖·‖w‖: γ_K = K·u / (1 − K·u) each, u = 2^-24 (Higham, Accuracy and Stability of
// Numerical Algorithms, §3.1), plus the truncation's 2^-7, with a margin for computing the bound
// itself in double.
double bound_factor(int K) {
  const double u = std::ldexp(1.0, -24), gamma = K * u / (1 - K * u);
  return (std::ldexp(1.0, -7) + 2 * gamma) * (1 + std::ldexp(1.0, -20));
}

// Absolute slack for what the relative bound misses: subnormal weights (truncation error below
// 2^-133 each, at most √K·‖x‖·2^-133 in all) and underflowing fma results (2^-150 each, 2K of them).
double absolute_slack(int K, double x_norm) {
  return std::sqrt(double(K)) * x_norm * std::ldexp(1.0, -133) + 2.0 * K * std::ldexp(1.0, -149);
}

// A row whose candidates span more than this share of the panels is left to the full product.
constexpr int kMaxCandidateShare = 8;

}  // namespace

ArgmaxScreen::ArgmaxScreen(const PackedMatrix& w) : w_(w) {
  assert(w.f32 != nullptr);
  const std::size_t n = packed_elements(w.N, w.K);
  // 2 MiB pages when large, as for the weights (Weights::convert): the screen streams from memory.
  constexpr std::size_t kHuge = std::size_t(2) << 20;
  const std::size_t bytes = std::max<std::size_t>(n * sizeof(Bf16), 64);
  const std::size_t alloc = bytes >= kHuge ? (bytes + kHuge - 1) / kHuge * kHuge : (bytes + 63) / 64 * 64;
  upper_.reset(static_cast<Bf16*>(std::aligned_alloc(alloc >= kHuge ? kHuge : 64, alloc)));
  if (!upper_) throw std::bad_alloc();
  if (alloc >= kHuge) ::madvise(upper_.get(), alloc, MADV_HUGEPAGE);
  for (std::size_t i = 0; i < n; ++i) upper_[i] = float_upper_half(w.f32[i]);
  // Row norms from the panels (column c of panel p at row k is W[p·16 + c][k]).
  row_norm_.assign(std::size_t(w.N), 0.0);
  for (int p = 0; p * kPanel < w.N; ++p) {
    const float* panel = w.f32 + std::size_t(p) * w.K * kPanel;
    const int cols = std::min(kPanel, w.N - p * kPanel);
    for (int c = 0; c < cols; ++c) {
      double s = 0;
      for (int k = 0; k < w.K; ++k) s += double(panel[std::size_t(k) * kPanel + c]) * panel[std::size_t(k) * kPanel + c];
      // sqrt in double is correctly rounded; one ulp up covers the sum's own rounding (K ≪ 2^29).
      row_norm_[std::size_t(p) * kPanel + c] = std::nextafter(std::sqrt(s) * (1 + 1e-12), HUGE_VAL);
    }
  }
}

std::size_t ArgmaxScreen::bytes() const {
  return ready() ? packed_elements(w_.N, w_.K) * sizeof(Bf16) + row_norm_.size() * sizeof(double) : 0;
}

bool ArgmaxScreen::argmax(const float* x, int M, TokenId* out, ThreadPool* pool) {
  if (!ready() || M <= 0) return false;
  const int N = w_.N, K = w_.K, panels = (N + kPanel - 1) / kPanel;
  approx_.resize(std::size_t(M) * N);
  PackedMatrix upper = w_;
  upper.f32 = nullptr;
  upper.bf16 = upper_.get();
  matmul(x, upper, approx_.data(), M, pool);
  exact_.resize(std::size_t(N));
  const double c = bound_factor(K);
  for (int m = 0; m < M; ++m) {
    const float* xm = x + std::size_t(m) * K;
    const float* a = approx_.data() + std::size_t(m) * N;
    double x_norm = 0;
    for (int k = 0; k < K; ++k) x_norm += double(xm[k]) * xm[k];
    x_norm = std::sqrt(x_norm) * (1 + 1e-12);
    if (!std::isfinite(x_norm)) return false;
    const double cx = c * x_norm, slack = absolute_slack(K, x_norm);
    // The best lower bound of any exact logit.
    double floor = -std::numeric_limits<double>::infinity();
    for (int n = 0; n < N; ++n) {
      if (!std::isfinite(a[n])) return false;
      floor = std::max(floor, double(a[n]) - (cx * row_norm_[std::size_t(n)] + slack));
    }
    // Panels holding a logit whose upper bound reaches it.
    panels_.clear();
    for (int n = 0; n < N; ++n) {
      if (double(a[n]) + (cx * row_norm_[std::size_t(n)] + slack) < floor) continue;
      const int p = n / kPanel;
      if (panels_.empty() || panels_.back() != p) panels_.push_back(p);
      if (int(panels_.size()) * kMaxCandidateShare > panels) return false;
    }
    // Exact logits of those panels with matmul's kernel, then the first maximum among candidates.
    int best = -1;
    for (int p : panels_) {
      matmul_panels(xm, w_, exact_.data(), 1, p, p + 1);
      const int end = std::min(N, (p + 1) * kPanel);
      for (int n = p * kPanel; n < end; ++n) {
        if (double(a[n]) + (cx * row_norm_[std::size_t(n)] + slack) < floor) continue;
        if (!std::isfinite(exact_[n])) return false;
        if (best < 0 || exact_[n] > exact_[best]) best = n;
      }
    }
    assert(best >= 0);
    out[m] = TokenId(best);
  }
  return true;
}

}  // namespace ladle::model
