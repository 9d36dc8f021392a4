// Paged attention equals contiguous attention: K/V scattered over shuffled blocks of a KvStore,
// GQA heads, causal prefill chunks and decode rows of several sequences in one call, over head
// sizes and block sizes that exercise every tail of the vector kernels. Also: every ISA level gives
// the portable build's bits, and a row's result does not depend on the batch around it.
// The same for a half (f16) cache, which must give exactly the bits of an fp32 cache holding the
// same rounded values.
#include "model/attention.h"

#include <gtest/gtest.h>

#include "model/half.h"
#include "model/isa.h"
#include "tests/testing/isa_levels.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ladle::model {
namespace {

// Contiguous reference in double: q [dim], K/V [ctx × kv_dim] of one sequence.
std::vector<float> reference(const ModelConfig& c, const float* q, const std::vector<float>& K,
                             const std::vector<float>& V, int ctx) {
  const int hd = c.head_dim(), group = c.n_heads / c.n_kv_heads;
  std::vector<float> out(c.dim);
  for (int h = 0; h < c.n_heads; ++h) {
    const int kvh = h / group;
    std::vector<double> s(ctx);
    double mx = -1e300, sum = 0;
    for (int t = 0; t < ctx; ++t) {
      double d = 0;
      for (int i = 0; i < hd; ++i) d += double(q[h * hd + i]) * K[std::size_t(t) * c.kv_dim() + kvh * hd + i];
      s[t] = d / std::sqrt(double(hd));
      mx = std::max(mx, s[t]);
    }
    for (double& v : s) sum += v = std::exp(v - mx);
    for (int i = 0; i < hd; ++i) {
      double acc = 0;
      for (int t = 0; t < ctx; ++t) acc += s[t] / sum * V[std::size_t(t) * c.kv_dim() + kvh * hd + i];
      out[h * hd + i] = float(acc);
    }
  }
  return out;
}

ModelConfig make_config(int dim, int n_heads, int n_kv_heads) {
  ModelConfig c;
  c.dim = dim; c.hidden_dim = 2 * dim; c.n_layers = 2; c.n_heads = n_heads; c.n_kv_heads = n_kv_heads;
  c.vocab_size = 32; c.seq_len = 512;
  return c;
}

// One attention call's inputs: sequence s has ctx[s] tokens of K/V, and this step holds its
// positions [first[s], ctx[s]) as query rows. Values are uniform in [-range, range]. Storage kF16
// keeps K/V in a half cache, kRounded in an fp32 cache but rounded to half first (so the two hold
// the same values); the contiguous copies K/V hold the values as stored.
enum class Storage { kF32, kRounded, kF16 };

struct Scenario {
  ModelConfig c;
  int layer = 1;
  std::unique_ptr<kvcache::KvStore> kv;
  std::vector<std::vector<float>> K, V;  // contiguous copies per sequence
  ForwardBatch batch;
  std::vector<std::int32_t> row_seq;
  std::vector<float> q;

  Scenario(const ModelConfig& cfg, int block_size, const std::vector<int>& ctx, const std::vector<int>& first,
           float range = 2.0f, unsigned seed = 1, Storage storage = Storage::kF32)
      : c(cfg) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-range, range);
    int num_blocks = 0;
    for (int n : ctx) num_blocks += (n + block_size - 1) / block_size;
    const bool half = storage == Storage::kF16;
    kv = std::make_unique<kvcache::KvStore>(
        kvcache::KvShape{c.n_layers, c.kv_dim(), block_size, half ? kvcache::KvDtype::kF16 : kvcache::KvDtype::kF32},
        num_blocks);
    auto draw = [&] { return storage == Storage::kF32 ? u(rng) : half_to_float(float_to_half(u(rng))); };
    std::vector<BlockId> free_blocks(num_blocks);
    for (int i = 0; i < num_blocks; ++i) free_blocks[i] = i;
    std::shuffle(free_blocks.begin(), free_blocks.end(), rng);
    for (std::size_t s = 0; s < ctx.size(); ++s) {
      K.emplace_back(std::size_t(ctx[s]) * c.kv_dim());
      V.emplace_back(K.back().size());
      for (float& x : K[s]) x = draw();
      for (float& x : V[s]) x = draw();
      SequenceSlice slice{batch.num_tokens(), ctx[s] - first[s], ctx[s], {}, true};
      for (int b = 0; b * block_size < ctx[s]; ++b) slice.block_table.push_back(free_blocks.back()), free_blocks.pop_back();
      for (int t = 0; t < ctx[s]; ++t) {
        const BlockId b = slice.block_table[t / block_size];
        const std::size_t row = std::size_t(t) * c.kv_dim(), slot = std::size_t(t % block_size) * c.kv_dim();
        if (half) {
          for (int i = 0; i < c.kv_dim(); ++i) {
            kv->key_block<Half>(layer, b)[slot + i] = float_to_half(K[s][row + i]);
            kv->value_block<Half>(layer, b)[slot + i] = float_to_half(V[s][row + i]);
          }
        } else {
          std::copy_n(&K[s][row], c.kv_dim(), kv->key_block(layer, b) + slot);
          std::copy_n(&V[s][row], c.kv_dim(), kv->value_block(layer, b) + slot);
        }
      }
      for (int p = first[s]; p < ctx[s]; ++p) {
        batch.token_ids.push_back(0), batch.positions.push_back(p), row_seq.push_back(int(s));
      }
      batch.seqs.push_back(slice);
    }
    q.resize(std::size_t(batch.num_tokens()) * c.dim);
    for (float& x : q) x = u(rng);
  }

  // At the active ISA level, or at `isa` if given.
  std::vector<float> run(ThreadPool* pool, std::optional<Isa> isa = std::nullopt,
                         AttentionPath path = AttentionPath::kAuto) const {
    std::optional<ScopedIsa> level;
    if (isa) level.emplace(*isa);
    std::vector<float> out(q.size(), -7.0f);  // garbage: attention must overwrite every float
    paged_attention({&batch, kv.get(), layer, &c, row_seq, q.data(), out.data()}, pool, path);
    return out;
  }

  // Every row against the double reference, within `tol` × the values' range.
  void expect_matches_reference(const std::vector<float>& out, float range, double tol = 5e-6) const {
    for (int t = 0; t < batch.num_tokens(); ++t) {
      const int s = row_seq[t];
      const auto want = reference(c, &q[std::size_t(t) * c.dim], K[s], V[s], batch.positions[t] + 1);
      for (int i = 0; i < c.dim; ++i)
        ASSERT_NEAR(out[std::size_t(t) * c.dim + i], want[i], tol * range) << "row " << t << " elem " << i;
    }
  }
};

TEST(PagedAttention, EqualsContiguousAttention) {
  // Sequence A: 37 tokens of context, this step a prefill chunk of positions 30..36.
  // Sequence B: 13 tokens, this step one decode row at position 12. GQA: 8 query heads, 2 KV heads.
  const Scenario sc(make_config(64, 8, 2), 4, {37, 13}, {30, 12});
  ThreadPool pool(2);
  const auto out = sc.run(&pool);
  sc.expect_matches_reference(out, 2.0f);
  // Single-threaded gives the same bits (work split does not change any reduction).
  EXPECT_EQ(out, sc.run(nullptr));
}

struct Shape {
  int dim, n_heads, n_kv_heads, block_size;
};

// Head sizes around the 8-float vector (6, 8, 12, 48 = stories15M), past the 64-float register
// chunk (100 = 64 + 36, 128 = 2 × 64), more heads than one pass keeps on the stack (20), spans
// shorter than a block (block 32) and blocks not a multiple of 8 (5); contexts of 1, around 8 and
// 16, and long prefill chunks.
class AttentionShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(AttentionShapes, EqualsContiguousAttention) {
  const Shape sh = GetParam();
  const Scenario sc(make_config(sh.dim, sh.n_heads, sh.n_kv_heads), sh.block_size, {1, 7, 9, 16, 17, 70},
                    {0, 6, 0, 15, 10, 40});
  ThreadPool pool(2);
  sc.expect_matches_reference(sc.run(&pool), 2.0f);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionShapes,
                         ::testing::Values(Shape{36, 6, 3, 16}, Shape{64, 8, 8, 16}, Shape{48, 4, 2, 4},
                                           Shape{96, 2, 2, 16}, Shape{200, 2, 1, 16}, Shape{256, 2, 2, 16},
                                           Shape{80, 20, 4, 8}, Shape{64, 4, 4, 32}, Shape{60, 6, 2, 5}),
                         [](const ::testing::TestParamInfo<Shape>& i) {
                           const Shape& s = i.param;
                           return "dim" + std::to_string(s.dim) + "_heads" + std::to_string(s.n_heads) + "_kv" +
                                  std::to_string(s.n_kv_heads) + "_block" + std::to_string(s.block_size);
                         });

TEST(PagedAttention, PeakySoftmaxAndUnderflowStayAccurate) {
  // Scores spanning hundreds: most weights underflow (exp argument far below -87) and the running
  // max jumps late in the sequence, exercising the online rescale.
  const float range = 12.0f;
  const Scenario sc(make_config(64, 4, 4), 16, {150, 33}, {120, 0}, range, 5);
  ThreadPool pool(2);
  sc.expect_matches_reference(sc.run(&pool), range);
}

// Every ISA level this CPU has gives the portable build's bits, fp32 and half caches, both paths.
class AttentionAtLevel : public testing::IsaLevelTest {};
LADLE_INSTANTIATE_ISA_LEVELS(AttentionAtLevel);

TEST_P(AttentionAtLevel, GivesThePortableBits) {
  if (GetParam() == Isa::kPortable) GTEST_SKIP() << "the portable build is the reference here";
  for (const Shape sh : {Shape{64, 8, 2, 4}, Shape{36, 6, 3, 16}, Shape{200, 2, 1, 16}, Shape{768, 12, 12, 16}})
    for (const Storage st : {Storage::kF32, Storage::kF16}) {
      const Scenario sc(make_config(sh.dim, sh.n_heads, sh.n_kv_heads), sh.block_size, {1, 23, 130}, {0, 3, 100},
                        3.0f, 9, st);
      for (const AttentionPath path : {AttentionPath::kAuto, AttentionPath::kPerHead})
        EXPECT_EQ(sc.run(nullptr, Isa::kPortable, path), sc.run(nullptr, std::nullopt, path)) << "dim " << sh.dim;
    }
}

// Heads of 8 floats run in vector lanes (up to 8 heads per pass) and must give exactly the bits
// of the per-head kernel: 8 heads with GQA, 16 heads (two passes), 3 heads (lanes left empty), a
// block size that cuts spans short, one row alone (the pool splits its heads across items), both
// builds, fp32 and half caches; and peaky scores that make the running max jump.
TEST(PagedAttention, EightFloatHeadsInLanesGiveThePerHeadBits) {
  ThreadPool pool(2);
  const std::vector<Isa> isas = supported_isas();
  for (const Shape sh : {Shape{64, 8, 4, 16}, Shape{128, 16, 4, 16}, Shape{24, 3, 3, 5}, Shape{64, 8, 2, 4}})
    for (const Storage st : {Storage::kF32, Storage::kF16})
      for (const float range : {3.0f, 12.0f}) {
        const Scenario sc(make_config(sh.dim, sh.n_heads, sh.n_kv_heads), sh.block_size, {1, 9, 23, 130},
                          {0, 8, 3, 100}, range, 13, st);
        const Scenario one(make_config(sh.dim, sh.n_heads, sh.n_kv_heads), sh.block_size, {70}, {69}, range, 17, st);
        for (const Isa isa : isas)
          for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
            EXPECT_EQ(sc.run(p, isa, AttentionPath::kAuto), sc.run(p, isa, AttentionPath::kPerHead)) << "dim " << sh.dim;
            EXPECT_EQ(one.run(p, isa, AttentionPath::kAuto), one.run(p, isa, AttentionPath::kPerHead)) << "dim " << sh.dim;
          }
      }
}

TEST(PagedAttention, RowResultDoesNotDependOnTheBatch) {
  // Sequence 0's decode row inside a batch with a prefill chunk and other decode rows (whole-row
  // work items) and alone (one row: the pool cuts its heads across items) give the same bits.
  const Scenario crowd(make_config(96, 6, 6), 16, {57, 40, 90, 5}, {56, 0, 89, 4}, 2.0f, 3);
  ThreadPool pool(2);
  const auto all = crowd.run(&pool);
  ForwardBatch alone;
  alone.token_ids = {0};
  alone.positions = {crowd.batch.positions[0]};
  alone.seqs = {crowd.batch.seqs[0]};
  const std::vector<std::int32_t> row_seq = {0};
  for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
    std::vector<float> out(crowd.c.dim);
    paged_attention({&alone, crowd.kv.get(), crowd.layer, &crowd.c, row_seq, crowd.q.data(), out.data()}, p);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), all.begin()));
  }
}

// A half cache: the kernels widen every K/V value exactly, so the result is bit for bit that of an
// fp32 cache holding the same rounded values, in both builds, at head sizes with vector tails (6,
// 12, 100) and without; and it still matches the double reference on those values.
TEST(PagedAttention, HalfCacheGivesTheBitsOfAnFp32CacheOfTheSameValues) {
  ThreadPool pool(2);
  for (const Shape sh : {Shape{64, 8, 2, 4}, Shape{36, 6, 3, 16}, Shape{48, 4, 2, 5}, Shape{200, 2, 1, 16},
                         Shape{768, 12, 12, 16}}) {
    const ModelConfig c = make_config(sh.dim, sh.n_heads, sh.n_kv_heads);
    const Scenario f16(c, sh.block_size, {1, 23, 130}, {0, 3, 100}, 3.0f, 11, Storage::kF16);
    const Scenario f32(c, sh.block_size, {1, 23, 130}, {0, 3, 100}, 3.0f, 11, Storage::kRounded);
    ASSERT_EQ(f16.K, f32.K);
    const auto out = f16.run(&pool);
    EXPECT_EQ(out, f32.run(&pool)) << "dim " << sh.dim;
    for (const Isa isa : supported_isas()) EXPECT_EQ(out, f16.run(nullptr, isa)) << "dim " << sh.dim << " " << isa_name(isa);
    f16.expect_matches_reference(out, 3.0f);
  }
}

}  // namespace
}  // namespace ladle::model
