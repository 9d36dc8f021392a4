// matmul_kernels: what model/matmul.cc's dispatcher shares with the per-ISA kernels (internal to
// model/; include only from matmul*.cc). Each kernel computes y's columns of panels [p_begin,
// p_end) for all M rows, every output one fma chain over k from 0 (model/matmul.h), so all of them
// give the same bits.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "model/half.h"
#include "model/matmul.h"
#include "model/q8_activations.h"

namespace ladle::model::kernels {

// y[M×N] columns of panels [p_begin, p_end) = x[M×K] · those panels of w (the panel layout).
template <class W>
using RangeFn = void (*)(const float* x, const W* w, float* y, int M, int N, int K, int p_begin, int p_end);

#if defined(__x86_64__)
// Function attribute of the AVX-512 code (not a `#pragma GCC target` region, so that clang, which
// ignores that pragma, builds it too: the fuzz and ThreadSanitizer builds). GCC takes a
// function's target from its first declaration, so the declaration below carries it as well.
#define LADLE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))

// The AVX-512 kernel (model/matmul_avx512.cc; instantiated for float, Half and std::int8_t). The
// portable and AVX2 kernels live in model/matmul.cc.
template <class W>
LADLE_AVX512 void range_avx512(const float* x, const W* w, float* y, int M, int N, int K, int p_begin, int p_end);
#endif

// Cache lines of the panels that follow, prefetched a few at a time by the current panels' tiles.
struct Ahead {
  const char* next = nullptr;  // the first line not yet prefetched
  int lines = 0;               // lines left
  // Hands the next tile its share: ceil(lines left / tiles left).
  Ahead take(int tiles_left) {
    const int n = (lines + tiles_left - 1) / std::max(1, tiles_left);
    const Ahead share{next, n};
    next += std::size_t(n) * 64;
    lines -= n;
    return share;
  }
};

// A tile's share of the next panels' lines, fetched one at a time spread evenly over its K steps
// (see the NOTE on tile_avx2): step() once per k, finish() after the loop for what K could not
// spread (more lines than steps). Shared by the AVX2 and AVX-512 tiles.
struct SpreadPrefetch {
  Ahead ahead;
  int every, due;
  SpreadPrefetch(Ahead a, int K) : ahead(a), every(std::max(1, K / std::max(1, a.lines))), due(every) {}
  [[gnu::always_inline]] inline void step() {
    if (ahead.lines > 0 && --due == 0) {
      __builtin_prefetch(ahead.next, 0, 3);  // _MM_HINT_T0
      ahead.next += 64;
      --ahead.lines;
      due = every;
    }
  }
  void finish() const {
    for (int i = 0; i < ahead.lines; ++i) __builtin_prefetch(ahead.next + std::size_t(i) * 64, 0, 3);
  }
};

// The q8 kernels (model/matmul_q8.cc, model/matmul_q8_avx512.cc): the same contract on the block-
// quantized layout of model/q8_panels.h (`w` its bytes), each output the block chain of the NOTE
// in model/matmul.h.
void range_q8_portable(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int p_begin, int p_end);
#if defined(__x86_64__)
void range_q8_avx2(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int p_begin, int p_end);
LADLE_AVX512 void range_q8_avx512(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int p_begin,
                                  int p_end);
#endif

// The int8-activation q8 kernels (model/matmul_q8_int8.cc, model/matmul_q8_vnni.cc): x quantized
// per row (model/q8_activations.h, M and K from it), each output the integer block chain there.
using RangeQ8iFn = void (*)(const Q8Rows& x, const std::uint8_t* w, float* y, int N, int p_begin, int p_end);
void range_q8i_portable(const Q8Rows& x, const std::uint8_t* w, float* y, int N, int p_begin, int p_end);
#if defined(__x86_64__)
void range_q8i_avx2(const Q8Rows& x, const std::uint8_t* w, float* y, int N, int p_begin, int p_end);
// AVX-512 with VNNI (vpdpbusd); on an AVX-512 CPU without VNNI the AVX2 one runs (same bits).
#define LADLE_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
LADLE_AVX512_VNNI void range_q8i_vnni(const Q8Rows& x, const std::uint8_t* w, float* y, int N, int p_begin,
                                      int p_end);
#endif

// How many k steps ahead a tile reading a panel nobody prefetched fetches its own panel.
inline constexpr int kSelfAhead = 32;

// Half W with at least kWidenRows rows and K <= kWidenMaxK: panels are widened once into a
// per-thread float copy (see the NOTE in matmul.cc).
inline constexpr int kWidenRows = 48;
inline constexpr int kWidenMaxK = 1024;

}  // namespace ladle::model::kernels
