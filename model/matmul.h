// matmul: the single GEMM entry point of the forward pass, y[M×N] = x[M×K] · W[N×K]ᵀ (row-major,
// W in llama2.c's [out × in] layout), plus the naive reference the tests compare it with.
//
// Free functions, no state; safe to call from any thread as long as `pool` is used by one caller
// at a time.
//
// NOTE(model): batch invariance. Every output element is reduced in one fixed order that depends
// only on K: eight interleaved partial sums over k (k ≡ lane mod 8, fused multiply-add, in
// increasing k), then a fixed pairwise tree over the eight lanes. The order does not depend on M,
// on N, on the register tile or on the thread split, so a token's row is bit-identical whether it
// is computed alone (M = 1) or among 64 rows. OpenBLAS 0.3.21 does not promise that (its small-
// matrix path, its gemv forwarding for M = 1 and its K-blocking differ by M), and its M = 1 path
// runs at ~15 GFLOP/s here, too slow for single-stream decode; so the kernel is our own (AVX2+FMA
// with runtime dispatch, and a portable fallback that computes the same order with std::fma, so
// both give the same bits).
//
// NOTE(model): half-precision W (`--weights f16`). The overloads taking `const Half*` widen each
// weight exactly to float (vcvtph2ps, or the software conversion in the portable kernel) and
// then reduce in the very same order, so matmul(x, W16) is bit-identical to matmul(x, W32) where
// W32 holds the widened values: batch invariance and the AVX2/portable agreement carry over.
#pragma once

#include "model/half.h"
#include "model/thread_pool.h"

namespace ladle::model {

// y[M×N] = x[M×K] · w[N×K]ᵀ, split across `pool` by output columns (pool may be null: one thread).
void matmul(const float* x, const float* w, float* y, int M, int N, int K, ThreadPool* pool);
// The same with W in IEEE half (binary16 bit patterns), e.g. Weights loaded with WeightType::kF16.
void matmul(const float* x, const Half* w, float* y, int M, int N, int K, ThreadPool* pool);

// Naive triple loop in double precision, for tests.
void matmul_reference(const float* x, const float* w, float* y, int M, int N, int K);

// The portable kernel (same reduction order as matmul's), single-threaded, for tests.
void matmul_portable(const float* x, const float* w, float* y, int M, int N, int K);
void matmul_portable(const float* x, const Half* w, float* y, int M, int N, int K);

// "avx2" or "portable": which kernel matmul() dispatches to on this CPU (for fp32 W; half W
// needs F16C as well, which every AVX2 CPU so far has).
const char* matmul_kernel_name();

}  // namespace ladle::model
