#include "model/argmax_screen.h"

#include "model/half.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <new>

namespace ladle::model {

namespace {

// γ_K = K·u / (1 − K·u), u = 2^-24: the most an fma chain over K terms can be off, relative to
// Σ|x_k·w_k| (Higham, Accuracy and Stability of Numerical Algorithms, §3.1).
double gamma_of(int K) {
  const double u = std::ldexp(1.0, -24);
  return K * u / (1 - K * u);
}

// A row whose largest weight is below this is not quantized (its scale would be subnormal); its
// bound is then simply its largest weight, which covers |e_n| itself.
const float kTinyRow = std::ldexp(1.0f, -100);

// Absolute slack for what the relative bounds miss: fma results that underflow (2^-150 each, K in
// each of the two chains, the screened one then scaled by s_n).
double absolute_slack(int K, double scale) { return 2.0 * K * std::ldexp(1.0, -149) * (1 + scale); }

// A row whose candidates span more than this share of the panels is left to the full product.
constexpr int kMaxCandidateShare = 8;

}  // namespace

ArgmaxScreen::ArgmaxScreen(const PackedMatrix& w) : w_(w) {
  // Already one byte per weight or less (q8 panels, a GGUF's K-quant blocks): nothing to screen
  // (see the header).
  if (w.q8 != nullptr || w.ggml != nullptr) return;
  assert((w.f32 != nullptr) != (w.f16 != nullptr) && w.i8 == nullptr);
  // Element i of w's panels as matmul reads it (a half widened exactly).
  auto at = [&w](std::size_t i) { return w.f32 != nullptr ? w.f32[i] : half_to_float(w.f16[i]); };
  const std::size_t n = packed_elements(w.N, w.K);
  q_ = allocate_streamed(n);
  if (!q_) throw std::bad_alloc();
  auto* q = static_cast<std::int8_t*>(q_.get());
  scale_.assign(std::size_t(w.N), 0.0f);
  bound_.assign(std::size_t(w.N), 0.0);
  const double gamma = gamma_of(w.K);
  // Column c of panel p at row k is W[p·16 + c][k].
  for (int p = 0; p * kPanel < w.N; ++p) {
    const std::size_t panel = std::size_t(p) * w.K * kPanel;
    std::int8_t* qp = q + std::size_t(p) * w.K * kPanel;
    const int cols = std::min(kPanel, w.N - p * kPanel);
    for (int c = 0; c < cols; ++c) {
      const int row = p * kPanel + c;
      float max = 0;
      bool finite = true;
      for (int k = 0; k < w.K; ++k) {
        const float v = at(panel + std::size_t(k) * kPanel + c);
        finite = finite && std::isfinite(v);
        max = std::max(max, std::fabs(v));
      }
      // A row with inf or NaN is always a candidate (argmax() then declines on its exact logit); a
      // tiny one is bounded by its largest weight.
      if (!finite || max < kTinyRow) {
        bound_[std::size_t(row)] = finite ? double(max) * (1 + gamma) * 1.01 : HUGE_VAL;
        continue;
      }
      const float s = max / 127.0f;
      scale_[std::size_t(row)] = s;
      for (int k = 0; k < w.K; ++k) {
        const float v = std::nearbyint(at(panel + std::size_t(k) * kPanel + c) / s);
        qp[std::size_t(k) * kPanel + c] = std::int8_t(std::clamp(v, -127.0f, 127.0f));
      }
      // |w − s·q| ≤ s/2 up to the division's rounding and the clamp (0.501 covers both); the
      // screened chain is off by γ_K·127·‖x‖₁ before scaling; the exact one by γ_K·Σ|x·w| ≤
      // γ_K·‖x‖₁·max|w| ≤ γ_K·‖x‖₁·127·s·(1 + 2^-23). a_n = s·t_n is formed in double, exactly.
      bound_[std::size_t(row)] = double(s) * (0.501 + 2 * 127 * gamma * (1 + 1e-6)) * (1 + std::ldexp(1.0, -20));
    }
  }
  advise_huge_pages(q_);
}

std::size_t ArgmaxScreen::bytes() const {
  return ready() ? packed_elements(w_.N, w_.K) + scale_.size() * sizeof(float) + bound_.size() * sizeof(double) : 0;
}

bool ArgmaxScreen::argmax(const float* x, int M, TokenId* out, ThreadPool* pool) {
  if (!ready() || M <= 0) return false;
  const int N = w_.N, K = w_.K, panels = (N + kPanel - 1) / kPanel;
  approx_.resize(std::size_t(M) * N);
  PackedMatrix quantized = w_;
  quantized.f32 = nullptr;
  quantized.f16 = nullptr;
  quantized.i8 = static_cast<const std::int8_t*>(q_.get());
  matmul(x, quantized, approx_.data(), M, pool);
  exact_.resize(std::size_t(N));
  for (int m = 0; m < M; ++m) {
    const float* xm = x + std::size_t(m) * K;
    const float* t = approx_.data() + std::size_t(m) * N;
    double x_l1 = 0;
    for (int k = 0; k < K; ++k) x_l1 += std::fabs(double(xm[k]));
    x_l1 *= 1 + 1e-12;
    if (!std::isfinite(x_l1)) return false;
    // Screened logit and its error bound for row n.
    auto approx = [&](int n) { return double(scale_[std::size_t(n)]) * t[n]; };
    auto bound = [&](int n) { return x_l1 * bound_[std::size_t(n)] + absolute_slack(K, scale_[std::size_t(n)]); };
    // The best lower bound of any exact logit.
    double floor = -std::numeric_limits<double>::infinity();
    for (int n = 0; n < N; ++n) {
      if (!std::isfinite(t[n])) return false;
      floor = std::max(floor, approx(n) - bound(n));
    }
    if (!std::isfinite(floor)) return false;
    // Panels holding a logit whose upper bound reaches it.
    panels_.clear();
    for (int n = 0; n < N; ++n) {
      if (approx(n) + bound(n) < floor) continue;
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
        if (approx(n) + bound(n) < floor) continue;
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
