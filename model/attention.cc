#include "model/attention.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "model/half.h"
#include "model/isa.h"
#include "model/vec8.h"

namespace ladle::model {

namespace {

// NOTE(model): the kernels below are written once on the 8-float vectors of model/vec8.h and
// compiled twice (AVX2 and baseline x86-64) with the same bits (tests/model/attention_test.cc
// compares the two paths bitwise). FMA would not pay here: the kernel waits on the K/V cache, and
// mul+add issue at the same rate on two pipes each, while a portable std::fma would be a slow
// library call.
using namespace vec8;

// How the kernels read K/V values of type E (float, or Half for an f16 cache): vec8's load8 and
// load_n, widened to float. Widening a half is exact, so an f16 cache gives the same bits as
// an fp32 cache holding the same (rounded) values, in either build.
// NOTE(model): the AVX2 build widens 8 halves with one vcvtph2ps written as inline asm. The
// intrinsic cannot be used here: it carries a target attribute, and these helpers (shared by
// both builds) have none, so GCC refuses to inline it into them; the asm has no such check and is
// only instantiated for the AVX2 entry point, which runs only when the CPU has F16C.
template <class E, bool kAvx2>
struct KvLoad;
template <bool kAvx2>
struct KvLoad<float, kAvx2> {
  using Elem = float;
  LADLE_INLINE static V8 load8(const float* p) { return vec8::load8(p); }
  LADLE_INLINE static V8 load_n(const float* p, int n) { return vec8::load_n(p, n); }
};
template <bool kAvx2>
struct KvLoad<Half, kAvx2> {
  using Elem = Half;
  LADLE_INLINE static V8 load8(const Half* p) {
    if constexpr (kAvx2) {
      V8 v;
      asm("vcvtph2ps %1, %0" : "=x"(v) : "m"(*reinterpret_cast<const Half(*)[8]>(p)));
      return v;
    } else {
      return load_n(p, 8);
    }
  }
  LADLE_INLINE static V8 load_n(const Half* p, int n) {
    V8 v = {};
    for (int i = 0; i < n; ++i) v[i] = half_to_float(p[i]);
    return v;
  }
};

// Transposing reduction: lane p of the result is the sum of a[p]'s 8 lanes, in the fixed order
// ((l0+l2) + (l1+l3)) + ((l4+l6) + (l5+l7)). Shuffles stay inside 128-bit halves until the last
// step, so on AVX2 they are single unpack/shufps/vperm2f128 instructions.
LADLE_INLINE V8 sum_pairs(V8 x, V8 y) {  // [x0+x2, y0+y2, x1+x3, y1+y3 | x4+x6, y4+y6, x5+x7, y5+y7]
  return __builtin_shufflevector(x, y, 0, 8, 1, 9, 4, 12, 5, 13) +
         __builtin_shufflevector(x, y, 2, 10, 3, 11, 6, 14, 7, 15);
}
LADLE_INLINE V8 sum_quads(V8 u, V8 w) {  // four vectors' half-sums: low 128 bits lanes 0-3, high 4-7
  return __builtin_shufflevector(u, w, 0, 1, 8, 9, 4, 5, 12, 13) +
         __builtin_shufflevector(u, w, 2, 3, 10, 11, 6, 7, 14, 15);
}
LADLE_INLINE V8 reduce_transpose(const V8 a[8]) {
  const V8 lo = sum_quads(sum_pairs(a[0], a[1]), sum_pairs(a[2], a[3]));
  const V8 hi = sum_quads(sum_pairs(a[4], a[5]), sum_pairs(a[6], a[7]));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(lo, hi, 4, 5, 6, 7, 12, 13, 14, 15);
}

LADLE_INLINE float hsum(V8 v) {  // fixed order, same as one lane of reduce_transpose
  return ((v[0] + v[2]) + (v[1] + v[3])) + ((v[4] + v[6]) + (v[5] + v[7]));
}
LADLE_INLINE float hmax(V8 v) {
  float m = v[0];
  for (int i = 1; i < 8; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

// A span: up to kSpan consecutive positions inside one block, the unit of the online softmax.
constexpr int kSpan = 16;
constexpr int kMaxHeadsPerPass = 16;  // per-head softmax state and span scores live on the stack

// Geometry shared by every span of one row: which heads, where their queries and outputs are.
struct RowGeometry {
  const float* q;  // [dim] this row's queries (RoPE applied)
  float* out;      // [dim] this row's output, accumulated in place
  int h0, heads;   // query heads [h0, h0 + heads), heads <= kMaxHeadsPerPass
  int head_dim, kv_dim, group;
  float scale;     // 1/√head_dim
  int kv_off(int h) const { return ((h0 + h) / group) * head_dim; }
};

template <class E>
struct Span {
  const E* keys;    // K row of the span's first position (rows kv_dim apart)
  const E* values;  // V row of the same position
  int n;            // positions in the span, 1..kSpan
};

// Software prefetch of a contiguous region, issued a little at a time as the current region is
// consumed (the hardware prefetchers alone left decode attention at half the streaming bandwidth).
class Prefetcher {
 public:
  Prefetcher() = default;
  Prefetcher(const void* begin, std::size_t bytes) : base_(static_cast<const char*>(begin)), size_(bytes) {}
  LADLE_INLINE void advance(std::size_t bytes) {
    const std::size_t stop = std::min(size_, done_ + bytes);
    for (; done_ < stop; done_ += 64) __builtin_prefetch(base_ + done_);  // one cache line
  }

 private:
  const char* base_ = nullptr;
  std::size_t size_ = 0;  // bytes in the region
  std::size_t done_ = 0;  // bytes already prefetched
};

// The K and V regions of the span after the one starting at position t (later in its block, or
// the start of the next block), to be prefetched while this one is computed; empty past ctx.
struct NextSpan {
  Prefetcher keys, values;
  std::size_t bytes = 0;  // in each region
};
template <class E>
inline NextSpan next_span(const AttentionArgs& a, const RowGeometry& g, const BlockId* table, int t, int ctx) {
  const int bs = a.kv->block_size(), s0 = t % bs;
  const int n0 = s0 + kSpan < bs ? t + kSpan : t - s0 + bs;
  if (n0 >= ctx) return {};
  const int nb = n0 / bs, ns = n0 % bs, nn = std::min({kSpan, bs - ns, ctx - n0});
  const std::size_t at = std::size_t(ns) * g.kv_dim, bytes = std::size_t(nn) * g.kv_dim * sizeof(E);
  return {Prefetcher(a.kv->key_block<E>(a.layer, table[nb]) + at, bytes),
          Prefetcher(a.kv->value_block<E>(a.layer, table[nb]) + at, bytes), bytes};
}

// Lane p = q·k[p] over head_dim = 8·full (+ tail) floats, each key with its own vector accumulator
// (the tail zero-padded), then one transposing reduction. The accumulators start from the first
// products (not from 0 + product, which only differs in the sign of a zero product and cost an
// add per key). kTail is a template flag so that the common whole-vector case keeps its
// accumulators in registers.
template <class KV, bool kTail>
LADLE_INLINE V8 dot8(const float* q, const typename KV::Elem* const k[8], int full, int tail) {
  V8 acc[8];
  if (full == 0) {  // head_dim < 8: the tail is the whole product
    const V8 qc = load_n(q, tail);
    for (int p = 0; p < 8; ++p) acc[p] = qc * KV::load_n(k[p], tail);
    return reduce_transpose(acc);
  }
  const V8 q0 = load8(q);
  for (int p = 0; p < 8; ++p) acc[p] = q0 * KV::load8(k[p]);
  for (int c = 1; c < full; ++c) {
    const V8 qc = load8(q + 8 * c);
    for (int p = 0; p < 8; ++p) acc[p] += qc * KV::load8(k[p] + 8 * c);
  }
  if (kTail) {
    const V8 qc = load_n(q + 8 * full, tail);
    for (int p = 0; p < 8; ++p) acc[p] += qc * KV::load_n(k[p] + 8 * full, tail);
  }
  return reduce_transpose(acc);
}

// s[h][p] = q_h·k_p · scale for every head and position of the span: per head, 8 positions at a
// time (a short last group repeats its last row).
template <class KV>
LADLE_INLINE void score_span(const RowGeometry& g, const Span<typename KV::Elem>& sp, float s[][kSpan],
                             Prefetcher& pf) {
  const int full = g.head_dim / 8, tail = g.head_dim % 8;
  for (int h = 0; h < g.heads; ++h) {
    const float* q = g.q + (g.h0 + h) * g.head_dim;
    for (int p0 = 0; p0 < sp.n; p0 += 8) {
      const typename KV::Elem* k[8];
      for (int p = 0; p < 8; ++p)
        k[p] = sp.keys + std::size_t(std::min(p0 + p, sp.n - 1)) * g.kv_dim + g.kv_off(h);
      const V8 d = tail == 0 ? dot8<KV, false>(q, k, full, 0) : dot8<KV, true>(q, k, full, tail);
      store_n(s[h] + p0, d * splat(g.scale), std::min(8, sp.n - p0));
    }
    pf.advance(std::size_t(sp.n) * g.head_dim * sizeof(typename KV::Elem));  // as much as this head consumed
  }
}

// Running softmax state of one head: max score so far and Σ e^(s - max); the row's output slice
// of the head holds Σ e^(s - max)·v.
struct HeadState {
  float max;
  float sum;
};

LADLE_INLINE void scale_slice(float* o, int n, float f) {
  for (int i = 0; i < n; i += 8) {
    const int m = std::min(8, n - i);
    store_n(o + i, (m == 8 ? load8(o + i) : load_n(o + i, m)) * splat(f), m);
  }
}

// Online softmax (flash-attention style) for one head over one span: turns its scores s[0, n) into
// weights e^(s - max) and folds them into the state. When the span raises the max, the sum and
// the output accumulated so far (zero before the first span) are first rescaled by e^(old - new);
// an unchanged max skips the rescale, which would multiply by exactly 1.
LADLE_INLINE void softmax_span(float* s, int n, bool first, HeadState& st, float* out, int head_dim) {
  const I8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
  V8 x[2];
  V8 mx = splat(-INFINITY);
  for (int g = 0; g * 8 < n; ++g) {
    const int m = std::min(8, n - 8 * g);
    x[g] = m == 8 ? load8(s + 8 * g) : load_n(s + 8 * g, m);
    mx = lane < m && x[g] > mx ? x[g] : mx;
  }
  const float span_max = hmax(mx);
  if (first) {
    st.max = span_max, st.sum = 0.0f;
  } else if (span_max > st.max) {
    const float rescale = exp8(splat(st.max - span_max))[0];
    st.max = span_max, st.sum *= rescale;
    scale_slice(out, head_dim, rescale);
  }
  V8 sum = {};
  for (int g = 0; g * 8 < n; ++g) {
    const int m = std::min(8, n - 8 * g);
    const V8 w = exp8(x[g] - splat(st.max));
    sum += lane < m ? w : V8{};  // padding lanes add 0
    store_n(s + 8 * g, w, m);
  }
  st.sum += hsum(sum);
}

// out[0, 8·NV) (its last vector `last` floats wide) += Σ_p w[p]·v_p over m positions whose V rows
// are kv_dim apart; the accumulators stay in registers across the positions.
template <class KV, int NV>
LADLE_INLINE void mix_chunk(const float* w, int m, const typename KV::Elem* v, int kv_dim, int last, float* out) {
  V8 acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = j == NV - 1 && last != 8 ? load_n(out + 8 * j, last) : load8(out + 8 * j);
  for (int p = 0; p < m; ++p, v += kv_dim) {
    const V8 wp = splat(w[p]);
    for (int j = 0; j < NV - 1; ++j) acc[j] += wp * KV::load8(v + 8 * j);
    acc[NV - 1] += wp * (last == 8 ? KV::load8(v + 8 * (NV - 1)) : KV::load_n(v + 8 * (NV - 1), last));
  }
  for (int j = 0; j < NV; ++j) store_n(out + 8 * j, acc[j], j == NV - 1 ? last : 8);
}

// Adds the span's weighted values into every head's output, head by head, in chunks of at most 64
// floats (8 accumulator registers).
template <class KV>
LADLE_INLINE void mix_span(const RowGeometry& g, const Span<typename KV::Elem>& sp, float w[][kSpan], Prefetcher& pf) {
  for (int h = 0; h < g.heads; ++h) {
    float* out = g.out + (g.h0 + h) * g.head_dim;
    const typename KV::Elem* v = sp.values + g.kv_off(h);
    for (int c0 = 0; c0 < g.head_dim; c0 += 64) {
      const int width = std::min(64, g.head_dim - c0), nv = (width + 7) / 8, last = width - 8 * (nv - 1);
      switch (nv) {
        case 1: mix_chunk<KV, 1>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
        case 2: mix_chunk<KV, 2>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
        case 3: mix_chunk<KV, 3>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
        case 4: mix_chunk<KV, 4>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
        case 5: mix_chunk<KV, 5>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
        case 6: mix_chunk<KV, 6>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
        case 7: mix_chunk<KV, 7>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
        default: mix_chunk<KV, 8>(w[h], sp.n, v + c0, g.kv_dim, last, out + c0); break;
      }
    }
    pf.advance(std::size_t(sp.n) * g.head_dim * sizeof(typename KV::Elem));
  }
}

// Attention of the geometry's heads over positions [0, ctx) of the sequence with block `table`:
// span by span in increasing position order, each span scored, soft-maxed and mixed for all heads.
// Every head sees its positions in the same order with fixed-order sums whatever the head range
// or the batch, so results depend only on the row's query and its sequence's K/V.
// NOTE(model): decode attention over a large batch is bound by reading the K/V cache (each decode
// row reads its whole sequence once per layer). Spans keep a span's K and V tiles hot together
// (online softmax: no score buffer of ctx floats, one pass over K/V), and the next span is
// prefetched while this one is computed: the hardware prefetchers alone, facing 16 interleaved
// row slices, left the loop at about half the speed of a plain streaming read of the same bytes.
template <class KV>
LADLE_INLINE void attend_row(const AttentionArgs& a, const RowGeometry& g, int ctx, const BlockId* table) {
  using E = typename KV::Elem;
  const int bs = a.kv->block_size();
  HeadState st[kMaxHeadsPerPass];
  float s[kMaxHeadsPerPass][kSpan];  // scores, then weights, of the current span
  std::fill_n(g.out + g.h0 * g.head_dim, std::size_t(g.heads) * g.head_dim, 0.0f);
  for (int b = 0, t0 = 0; t0 < ctx; ++b, t0 += bs) {
    const E* keys = a.kv->key_block<E>(a.layer, table[b]);
    const E* values = a.kv->value_block<E>(a.layer, table[b]);
    for (int s0 = 0; s0 < bs && t0 + s0 < ctx; s0 += kSpan) {
      const Span<E> sp{keys + std::size_t(s0) * g.kv_dim, values + std::size_t(s0) * g.kv_dim,
                    std::min({kSpan, bs - s0, ctx - t0 - s0})};
      NextSpan next = next_span<E>(a, g, table, t0 + s0, ctx);
      score_span<KV>(g, sp, s, next.keys);
      for (int h = 0; h < g.heads; ++h)
        softmax_span(s[h], sp.n, t0 + s0 == 0, st[h], g.out + (g.h0 + h) * g.head_dim, g.head_dim);
      mix_span<KV>(g, sp, s, next.values);
    }
  }
  for (int h = 0; h < g.heads; ++h) scale_slice(g.out + (g.h0 + h) * g.head_dim, g.head_dim, 1.0f / st[h].sum);
}

// The same attention for heads of exactly 8 floats (stories260K's), up to 8 heads at a time with
// the heads in vector lanes: a position's 8 scores come out of one transposing reduction, and the
// online softmax runs on whole vectors (one lane per head) instead of one head at a time with
// horizontal max and sum. Every value is computed by the operations of attend_row in the same
// order, so the bits are the same (tests compare the two): a score is q·k reduced in
// reduce_transpose's order, then scaled; a span's sum adds position i and 8 + i first, then
// hsum's tree; the output adds the weighted values position by position.
// NOTE(model): at 8 floats per head the per-head path spends most of its time in per-span
// overhead (a scalar max and sum, a branch and a call per head and span), not in the loads; in a
// served tiny-model run attention was 58 % of the engine's CPU. This path is 2-2.7x faster there
// (attention_bench --shapes tiny, alternated with the per-head build; commit ec0702d).
// NOTE(model): no software prefetch here. A position's K and V rows are kv_dim contiguous floats
// each (stories260K: 4 kv heads × 8 = 128 bytes), so a span's reads are two short sequential
// streams the hardware prefetchers follow; prefetching the next span as attend_row does made this
// path slower:
// attention_bench --shapes tiny --ctx 174 --threads 1, alternated, 0.56 → 0.49 ms per decode
// step without it (and no slower at --ctx 400 on two threads, f32 or f16 cache).
constexpr int kLaneHeads = 8;

template <class KV>
LADLE_INLINE void attend_row_lanes(const AttentionArgs& a, const RowGeometry& g, int ctx, const BlockId* table) {
  using E = typename KV::Elem;
  const int bs = a.kv->block_size(), H = g.heads;
  V8 q[kLaneHeads], out[kLaneHeads];
  int kv_off[kLaneHeads];
  for (int h = 0; h < kLaneHeads; ++h) {
    q[h] = h < H ? load8(g.q + (g.h0 + h) * 8) : V8{};  // lanes past H score 0 and are never stored
    kv_off[h] = g.kv_off(std::min(h, H - 1));
    out[h] = V8{};
  }
  V8 st_max = {}, st_sum = {};
  for (int b = 0, t0 = 0; t0 < ctx; ++b, t0 += bs) {
    const E* keys = a.kv->key_block<E>(a.layer, table[b]);
    const E* values = a.kv->value_block<E>(a.layer, table[b]);
    for (int s0 = 0; s0 < bs && t0 + s0 < ctx; s0 += kSpan) {
      const int n = std::min({kSpan, bs - s0, ctx - t0 - s0});
      const E* k = keys + std::size_t(s0) * g.kv_dim;
      const E* v = values + std::size_t(s0) * g.kv_dim;
      // Scores: w[p] lane h = q_h·k_p · scale, and the span's max per head.
      V8 w[kSpan];
      V8 span_max = splat(-INFINITY);
      for (int p = 0; p < n; ++p) {
        V8 prod[kLaneHeads];
        for (int h = 0; h < kLaneHeads; ++h) prod[h] = q[h] * KV::load8(k + std::size_t(p) * g.kv_dim + kv_off[h]);
        w[p] = reduce_transpose(prod) * splat(g.scale);
        span_max = w[p] > span_max ? w[p] : span_max;
      }
      // Online softmax, all heads at once (see softmax_span).
      if (t0 + s0 == 0) {
        st_max = span_max, st_sum = V8{};
      } else {
        const I8 raised = span_max > st_max;
        const V8 rescale = raised ? exp8(st_max - span_max) : splat(1.0f);
        st_max = raised ? span_max : st_max;
        st_sum = raised ? st_sum * rescale : st_sum;
        for (int h = 0; h < H; ++h)
          if (raised[h]) out[h] = out[h] * splat(rescale[h]);
      }
      for (int p = 0; p < n; ++p) w[p] = exp8(w[p] - st_max);
      V8 t[8];
      for (int i = 0; i < 8; ++i) t[i] = V8{} + (i < n ? w[i] : V8{});
      if (n > 8)
        for (int i = 0; i < 8; ++i) t[i] = t[i] + (8 + i < n ? w[8 + i] : V8{});
      st_sum = st_sum + (((t[0] + t[2]) + (t[1] + t[3])) + ((t[4] + t[6]) + (t[5] + t[7])));
      // Weighted values, position by position.
      for (int p = 0; p < n; ++p)
        for (int h = 0; h < H; ++h) out[h] = out[h] + splat(w[p][h]) * KV::load8(v + std::size_t(p) * g.kv_dim + kv_off[h]);
    }
  }
  const V8 inv = splat(1.0f) / st_sum;
  for (int h = 0; h < H; ++h) store_n(g.out + (g.h0 + h) * 8, out[h] * splat(inv[h]), 8);
}

// Work item `item` = (row, head range); see paged_attention for the split.
template <class KV>
LADLE_INLINE void attend_items_body(const AttentionArgs& a, int begin, int end, int heads_per_item, bool lanes) {
  const ModelConfig& cfg = *a.cfg;
  const int hd = cfg.head_dim(), items_per_row = (cfg.n_heads + heads_per_item - 1) / heads_per_item;
  for (int item = begin; item < end; ++item) {
    const int row = item / items_per_row, h_begin = (item % items_per_row) * heads_per_item;
    const int h_end = std::min(cfg.n_heads, h_begin + heads_per_item);
    const SequenceSlice& s = a.batch->seqs[a.row_seq[row]];
    const int ctx = a.batch->positions[row] + 1;  // causal: positions [0, pos]
    lanes = lanes && hd == 8;
    const int per_pass = lanes ? kLaneHeads : kMaxHeadsPerPass;
    for (int h0 = h_begin; h0 < h_end; h0 += per_pass) {
      const RowGeometry g{a.q + std::size_t(row) * cfg.dim, a.out + std::size_t(row) * cfg.dim,
                          h0, std::min(h_end - h0, per_pass),
                          hd, cfg.kv_dim(), cfg.n_heads / cfg.n_kv_heads, 1.0f / std::sqrt(float(hd))};
      if (lanes) attend_row_lanes<KV>(a, g, ctx, s.block_table.data());
      else attend_row<KV>(a, g, ctx, s.block_table.data());
    }
  }
}

template <class E>
[[gnu::target("avx2,f16c")]] void attend_items_avx2(const AttentionArgs& a, int begin, int end, int heads_per_item,
                                                     bool lanes) {
  attend_items_body<KvLoad<E, true>>(a, begin, end, heads_per_item, lanes);
}
template <class E>
void attend_items_portable(const AttentionArgs& a, int begin, int end, int heads_per_item, bool lanes) {
  attend_items_body<KvLoad<E, false>>(a, begin, end, heads_per_item, lanes);
}

// NOTE(model): the AVX-512 level runs the AVX2 build. Built for AVX-512 (the same 8-float code,
// EVEX-encoded, with 32 registers and mask compares) it was no faster on a Zen 4 EPYC:
// attention_bench --shapes 110m,15m --kv-cache-dtype f32,f16 --min-time 0.5, the two alternated
// in one process, four rounds on a loaded machine: 110M f32 decode (32 rows, ctx 128) median 78 ms
// per step AVX2 vs 85 AVX-512, f16 51 vs 59, 15M f32 21 vs 20, f16 9.0 vs 10.2. Wider vectors
// would change the reduction order of the scores (the bits), so they would need their own proof.
using ItemsFn = void (*)(const AttentionArgs&, int, int, int, bool);
template <class E>
ItemsFn items_fn(Isa isa) {
  return isa == Isa::kPortable ? ItemsFn(attend_items_portable<E>) : ItemsFn(attend_items_avx2<E>);
}

}  // namespace

void paged_attention(const AttentionArgs& args, ThreadPool* pool, AttentionPath path) {
  const ItemsFn attend_items = args.kv->dtype() == kvcache::KvDtype::kF16 ? items_fn<Half>(active_isa())
                                                                          : items_fn<float>(active_isa());
  const bool lanes = path == AttentionPath::kAuto;
  const int rows = args.batch->num_tokens(), heads = args.cfg->n_heads;
  if (pool == nullptr) {
    attend_items(args, 0, rows, heads, lanes);
    return;
  }
  // Items of whole rows when there are enough rows to keep every thread busy; with only a few
  // rows (small decode batches), rows are cut into head ranges so that all threads get work.
  const int wanted = 4 * pool->num_threads();
  const int cuts = std::clamp((wanted + rows - 1) / std::max(rows, 1), 1, heads);
  const int heads_per_item = (heads + cuts - 1) / cuts;
  const int items_per_row = (heads + heads_per_item - 1) / heads_per_item;
  pool->parallel_for(rows * items_per_row,
                     [&](int item, int) { attend_items(args, item, item + 1, heads_per_item, lanes); });
}

}  // namespace ladle::model
