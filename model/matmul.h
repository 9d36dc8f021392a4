// matmul: the single GEMM entry point of the forward pass, y[M×N] = x[M×K] · W[N×K]ᵀ (row-major x
// and y), with W repacked once at load into the kernel's panel layout (PackedMatrix), plus the
// naive reference the tests compare it with.
//
// Free functions, no state; safe to call from any thread as long as `pool` is used by one caller
// at a time.
//
// NOTE(model): batch invariance. Every output element is one chain of fused multiply-adds over
// k = 0, 1, ..., K-1 in increasing order, starting from 0: y = fma(x[K-1], w[K-1], ... fma(x[0],
// w[0], 0)). The order does not depend on M, on N, on the register tile or on the thread split,
// so a token's row is bit-identical whether it is computed alone (M = 1) or among 64 rows.
// OpenBLAS 0.3.21 does not promise that (its small-matrix path, its gemv forwarding for M = 1 and
// its K-blocking differ by M), and its M = 1 path runs at ~15 GFLOP/s here, too slow for
// single-stream decode; so the kernel is our own: AVX-512 or AVX2+FMA, picked at run time
// (model/isa.h), and a portable fallback that computes the same chain with std::fma, so all three
// give the same bits.
//
// NOTE(model): why packed panels. With W in llama2.c's [N × K] layout a vector kernel sums eight
// k-lanes per output and pays a horizontal sum per element (~15% at K = 288). In the panel
// layout (kPanel output columns stored k-major) one vector load gives eight outputs' weights at
// the same k, so the kernel broadcasts x[m][k] and accumulates MR × kPanel outputs at once
// (an outer product per k): no horizontal sums, and each output is exactly the chain above.
//
// NOTE(model): half-precision W (`--weights f16`). Half panels are widened exactly to float
// (vcvtph2ps, or the software conversion in the portable kernel) and then reduced in the very
// same chain, so matmul on half panels is bit-identical to matmul on fp32 panels holding the
// widened values: batch invariance and the AVX2/portable agreement carry over.
//
// NOTE(q8): block-quantized int8 W (`--weights q8`, model/q8_panels.h) cannot keep that chain: a
// weight is q · d with d per block of 32 along K. Each output is instead one fixed sequence of
// per-block steps from acc = 0, blocks in order; by default (int8 activations, as llama.cpp) x is
// quantized per row to Q8_0 and a block adds fma(float(isum_b), dx_b · dw_b, acc) with isum_b the
// exact int32 sum of the int8 products (model/q8_activations.h); with float activations a block
// adds fma(partial_b, d_b, acc) with partial_b the fma chain of x[k] · q[k] over the block's k from
// 0. Neither depends on M, the tile or the ISA, so every level gives the portable kernel's bits and
// rows are batch invariant. The choice of int8 activations as the default, and its numbers, are
// in model/matmul_q8_int8.cc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/half.h"
#include "model/q8_activations.h"
#include "model/thread_pool.h"

namespace ladle::model {

// Output columns per panel: two 8-float vectors.
inline constexpr int kPanel = 16;

// W [N × K] in panel layout: ceil(N / kPanel) panels of K rows × kPanel columns, panel p's row k
// holding W[p·kPanel + c][k] for c = 0..kPanel-1 (columns at or past N hold 0). Exactly one of
// f32/f16/i8/q8/ggml is set. A view: the storage belongs to whoever packed it (model::Weights, or the
// ArgmaxScreen for its int8 classifier).
struct PackedMatrix {
  const float* f32 = nullptr;
  const Half* f16 = nullptr;
  int N = 0, K = 0;
  const std::int8_t* i8 = nullptr;  // small integers (the argmax screen's), widened exactly
  const std::uint8_t* q8 = nullptr;  // int8 with a half scale per block of 32 along K (model/q8_panels.h)
  // How q8 panels meet x (model/q8_activations.h): quantized to int8 per row, or fp32.
  Q8Activations q8_activations = Q8Activations::kInt8;
  // W in a GGUF file's own numbers of ggml type ggml_type (Q4_K, Q6_K), rearranged into panels of
  // 16 rows (model/ggml_panels.h), read by model/matmul_ggml.h.
  const std::byte* ggml = nullptr;
  std::uint32_t ggml_type = 0;
};

// Elements of the panel layout of an [N × K] matrix (N rounded up to whole panels).
std::size_t packed_elements(int N, int K);
// Writes the `rows` rows of w [rows × K] (llama2.c layout) as output columns n0..n0+rows-1 of the
// panel layout at `packed` (an N × K matrix, N >= n0 + rows), so that stacked matrices such as
// [wq; wk; wv] can share one PackedMatrix. Columns it is not given are left untouched: zero the
// buffer first.
void pack_rows(const float* w, int rows, int K, int n0, float* packed);
void pack_rows(const Half* w, int rows, int K, int n0, Half* packed);

// y[M×N] = x[M×K] · Wᵀ with N, K from `w`, split across `pool` by panels (pool may be null: one
// thread), by the kernel of the active ISA level (model/isa.h). W in ggml blocks goes to
// matmul_ggml() (model/matmul_ggml.h), split by rows.
void matmul(const float* x, const PackedMatrix& w, float* y, int M, ThreadPool* pool);

// matmul()'s kernel on panels [p_begin, p_end) only (rows p_begin·kPanel .. of W in ggml blocks), on the calling thread: y's columns of those
// panels (row stride w.N) for M rows, bit-identical to what matmul() writes there.
void matmul_panels(const float* x, const PackedMatrix& w, float* y, int M, int p_begin, int p_end);

// Naive triple loop in double precision over W in llama2.c's layout, for tests.
void matmul_reference(const float* x, const float* w, float* y, int M, int N, int K);

// The portable kernel (the same chains as matmul's), single-threaded, for tests.
void matmul_portable(const float* x, const PackedMatrix& w, float* y, int M);

}  // namespace ladle::model
