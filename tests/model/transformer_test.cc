// Transformer: golden greedy decoding of stories260K against run.c (REFERENCE.md), batch
// invariance — a sequence's logits are bit-identical alone, in chunks, or inside mixed batches —
// with fp32 and with half weights, at every ISA level the CPU has, whose forward steps give the
// portable build's bits; and half weights staying close to fp32.
#include "model/transformer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/checkpoint_writer.h"
#include "model/isa.h"
#include "model/sampler.h"
#include "tests/testing/isa_levels.h"

namespace ladle::model {
namespace {

const std::string kModels = LADLE_MODELS_DIR;
constexpr int kBlockSize = 16;

// The vocab pieces of a llama2.c tokenizer.bin (a local reader, independent of model/tokenizer).
std::vector<std::string> read_pieces(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::int32_t max_len = 0;
  in.read(reinterpret_cast<char*>(&max_len), 4);
  std::vector<std::string> pieces;
  float score;
  std::int32_t len;
  while (in.read(reinterpret_cast<char*>(&score), 4) && in.read(reinterpret_cast<char*>(&len), 4)) {
    std::string s(std::size_t(len), '\0');
    in.read(s.data(), len);
    pieces.push_back(s);
  }
  return pieces;
}

// run.c's decode + print: strip the leading space after BOS, "<0xXX>" is one raw byte.
std::string decode(const std::vector<std::string>& pieces, TokenId prev, TokenId id) {
  std::string p = pieces.at(id);
  if (prev == 1 && !p.empty() && p[0] == ' ') p.erase(0, 1);
  unsigned byte = 0;
  if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%02X>", &byte) == 1) return std::string(1, char(byte));
  return p;
}

// The single sequence runner: block table 0..n-1, greedy decoding until `steps`
// positions exist or BOS is produced. Returns every token from position 1 on.
std::vector<TokenId> greedy(Transformer& model, kvcache::KvStore& kv, std::vector<TokenId> prompt, int steps) {
  BlockTable table;
  for (int b = 0; b < kv.num_blocks(); ++b) table.push_back(b);
  std::vector<TokenId> tokens = prompt;
  int computed = 0;
  while (int(tokens.size()) < steps) {
    ForwardBatch batch;
    for (int p = computed; p < int(tokens.size()); ++p) {
      batch.token_ids.push_back(tokens[p]);
      batch.positions.push_back(p);
    }
    batch.seqs.push_back({0, batch.num_tokens(), int(tokens.size()), table, true});
    auto logits = model.forward(batch, kv);
    computed = int(tokens.size());
    const TokenId next = argmax(logits);
    if (next == 1) break;
    tokens.push_back(next);
  }
  return {tokens.begin() + 1, tokens.end()};
}

std::string reference_block(const std::string& marker) {
  std::ifstream in(kModels + "/REFERENCE.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string md = ss.str();
  std::size_t at = md.find(marker);
  at = md.find("```\n", at) + 4;
  return md.substr(at, md.find("```", at) - at);
}

TEST(TransformerGolden, PromptTokenTraceMatchesRunC) {
  auto model = Transformer::load(kModels + "/stories260K.bin", RuntimeLimits{64, 4, 2});
  ASSERT_TRUE(model.ok()) << model.error().message;
  kvcache::KvStore kv((*model)->kv_shape(kBlockSize), 512 / kBlockSize);
  const std::vector<TokenId> expected = {
      403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338,
      401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385,
      328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267,
      337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310};
  EXPECT_EQ(greedy(**model, kv, {1, 403, 407, 261, 378}, 65), expected);
}

TEST(TransformerGolden, FullContextFromBosMatchesRunCText) {
  auto model = Transformer::load(kModels + "/stories260K.bin", RuntimeLimits{64, 4, 2});
  ASSERT_TRUE(model.ok()) << model.error().message;
  kvcache::KvStore kv((*model)->kv_shape(kBlockSize), 512 / kBlockSize);
  const auto pieces = read_pieces(kModels + "/tok512.bin");
  ASSERT_EQ(pieces.size(), 512u);
  const auto generated = greedy(**model, kv, {1}, 257);  // run.c -n 256: tokens at positions 1..256
  std::string text;
  TokenId prev = 1;
  for (TokenId t : generated) {
    text += decode(pieces, prev, t);
    prev = t;
  }
  const std::string expected = reference_block("-t 0.0 -n 256`");
  ASSERT_GT(expected.size(), 500u);
  EXPECT_EQ(text + "\n", expected);
}

// ---- batch invariance ------------------------------------------------------------------------

struct Seq {
  std::vector<TokenId> tokens;  // teacher-forced: prompt followed by a fixed continuation
  BlockTable table;
};

// Logits for every position of `s`, computed alone one token per step.
std::vector<std::vector<float>> alone(Transformer& m, kvcache::KvStore& kv, const Seq& s) {
  std::vector<std::vector<float>> out;
  for (int p = 0; p < int(s.tokens.size()); ++p) {
    ForwardBatch b{{s.tokens[p]}, {p}, {{0, 1, p + 1, s.table, true}}};
    auto l = m.forward(b, kv);
    out.emplace_back(l.begin(), l.end());
  }
  return out;
}

// A synthetic GQA checkpoint (dim 96, 6 query heads over 2 KV heads, untied classifier) written
// to the temporary folder as `name`, with weights from `seed`; its path, or "" if it could not be
// written.
std::string write_gqa_checkpoint(const std::string& name, std::uint64_t seed) {
  ModelConfig cfg;
  cfg.dim = 96; cfg.hidden_dim = 204; cfg.n_layers = 2; cfg.n_heads = 6; cfg.n_kv_heads = 2;
  cfg.vocab_size = 300; cfg.seq_len = 64; cfg.shared_classifier = false;
  const std::string path = ::testing::TempDir() + "/" + name;
  return write_synthetic_checkpoint(path, cfg, seed).ok() ? path : "";
}

void expect_invariant(const std::string& path, int threads, WeightType weights = WeightType::kF32,
                      kvcache::KvDtype kv_dtype = kvcache::KvDtype::kF32,
                      Q8Activations q8_activations = Q8Activations::kInt8) {
  RuntimeLimits limits{96, 8, threads, weights};
  limits.q8_activations = q8_activations;
  limits.min_half_screen_bytes = 0;  // screen the small half classifiers too
  auto model = Transformer::load(path, limits);
  ASSERT_TRUE(model.ok()) << model.error().message;
  Transformer& m = **model;
  const int vocab = m.config().vocab_size;
  const int num_seqs = 5, len = 40, blocks_per_seq = (len + kBlockSize - 1) / kBlockSize;
  kvcache::KvStore kv(m.kv_shape(kBlockSize, kv_dtype), num_seqs * blocks_per_seq);
  std::mt19937 rng(7);
  std::vector<Seq> seqs(num_seqs);
  for (int i = 0; i < num_seqs; ++i) {
    seqs[i].tokens.push_back(1);
    for (int p = 1; p < len; ++p) seqs[i].tokens.push_back(TokenId(rng() % vocab));
    for (int b = 0; b < blocks_per_seq; ++b) seqs[i].table.push_back(b * num_seqs + (num_seqs - 1 - i));  // interleaved
  }
  std::vector<std::vector<std::vector<float>>> ref;
  for (const Seq& s : seqs) ref.push_back(alone(m, kv, s));

  // Mixed steps: every unfinished sequence takes a random chunk (1..9 tokens; a decode step when
  // 1), in a random order of slices.
  std::vector<int> done(num_seqs, 0);
  int compared = 0, screened = 0, eligible = 0;
  while (true) {
    ForwardBatch b;
    std::vector<int> order(num_seqs);
    for (int i = 0; i < num_seqs; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int> rows_of;
    for (int i : order) {
      if (done[i] == len) continue;
      const int n = std::min(len - done[i], 1 + int(rng() % 9));
      const bool logits = rng() % 4 != 0;
      b.seqs.push_back({b.num_tokens(), n, done[i] + n, seqs[i].table, logits});
      for (int p = done[i]; p < done[i] + n; ++p) {
        b.token_ids.push_back(seqs[i].tokens[p]);
        b.positions.push_back(p);
      }
      done[i] += n;
      if (logits) rows_of.push_back(i);
    }
    if (b.seqs.empty()) break;
    auto l = m.forward(b, kv);
    ASSERT_EQ(l.size(), rows_of.size() * std::size_t(vocab));
    for (std::size_t r = 0; r < rows_of.size(); ++r) {
      const auto& want = ref[rows_of[r]][done[rows_of[r]] - 1];
      ASSERT_EQ(0, std::memcmp(want.data(), l.data() + r * vocab, vocab * sizeof(float)))
          << "seq " << rows_of[r] << " pos " << done[rows_of[r]] - 1;
      ++compared;
    }
    // The same step again (it rewrites the same K/V) with every slice greedy: the screen's tokens,
    // when it decides, are the first maxima of the logits above.
    if (rows_of.empty()) continue;
    eligible += int(rows_of.size()) <= Transformer::kMaxScreenRows;
    for (auto& slice : b.seqs) slice.argmax_only = true;
    const auto g = m.forward_dropping(b, kv, {});
    if (g.greedy.empty()) {
      ASSERT_EQ(g.logits.size(), rows_of.size() * std::size_t(vocab));
      continue;
    }
    ASSERT_TRUE(g.logits.empty());
    ASSERT_EQ(g.greedy.size(), rows_of.size());
    for (std::size_t r = 0; r < rows_of.size(); ++r)
      ASSERT_EQ(g.greedy[r], argmax(ref[rows_of[r]][done[rows_of[r]] - 1])) << "seq " << rows_of[r];
    ++screened;
  }
  EXPECT_GT(compared, 20);
  // Steps of at most kMaxScreenRows rows: all of them on stories260K; a q8 classifier has no
  // screen (model/argmax_screen.h), so its greedy rows get full logits.
  if (weights == WeightType::kQ8) EXPECT_EQ(screened, 0);
  else EXPECT_GT(2 * screened, eligible);

  // One whole-prompt prefill equals the decode-by-decode logits of its last position.
  ForwardBatch whole{seqs[2].tokens, {}, {{0, len, len, seqs[2].table, true}}};
  for (int p = 0; p < len; ++p) whole.positions.push_back(p);
  auto l = m.forward(whole, kv);
  EXPECT_EQ(0, std::memcmp(ref[2][len - 1].data(), l.data(), vocab * sizeof(float)));
}

// The batch-invariance tests run once per ISA level this CPU has (tests/testing/isa_levels.h).
class TransformerBatchAtLevel : public testing::IsaLevelTest {};
LADLE_INSTANTIATE_ISA_LEVELS(TransformerBatchAtLevel);

TEST_P(TransformerBatchAtLevel, MixedBatchesEqualSequencesAloneOnStories260K) {
  expect_invariant(kModels + "/stories260K.bin", 2);
}

TEST_P(TransformerBatchAtLevel, MixedBatchesEqualSequencesAloneWithAHalfKvCache) {
  expect_invariant(kModels + "/stories260K.bin", 2, WeightType::kF32, kvcache::KvDtype::kF16);
}

// A half K/V cache changes logits only by K/V rounding: close to the fp32 cache's, and on the
// trained stories260K model the same greedy continuation as run.c for the traced prompt.
TEST(TransformerGolden, HalfKvCacheStaysCloseToFp32) {
  auto model = Transformer::load(kModels + "/stories260K.bin", RuntimeLimits{64, 4, 2});
  ASSERT_TRUE(model.ok()) << model.error().message;
  Transformer& m = **model;
  kvcache::KvStore f32(m.kv_shape(kBlockSize), 512 / kBlockSize);
  kvcache::KvStore f16(m.kv_shape(kBlockSize, kvcache::KvDtype::kF16), 512 / kBlockSize);
  const Seq s{{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338}, {0, 1}};
  const auto a = alone(m, f32, s), b = alone(m, f16, s);
  double worst = 0;
  for (std::size_t p = 0; p < a.size(); ++p) {
    float top = 0;
    for (float x : a[p]) top = std::max(top, std::fabs(x));
    for (std::size_t i = 0; i < a[p].size(); ++i) worst = std::max(worst, double(std::fabs(a[p][i] - b[p][i])) / top);
    EXPECT_NE(a[p], b[p]) << "position " << p << ": rounding K/V to half should show in the logits";
  }
  EXPECT_LT(worst, 1e-2);
  kvcache::KvStore kv(m.kv_shape(kBlockSize, kvcache::KvDtype::kF16), 512 / kBlockSize);
  const auto tokens = greedy(m, kv, {1, 403, 407, 261, 378}, 65);
  kvcache::KvStore ref(m.kv_shape(kBlockSize), 512 / kBlockSize);
  EXPECT_EQ(tokens, greedy(m, ref, {1, 403, 407, 261, 378}, 65));
}

TEST_P(TransformerBatchAtLevel, MixedBatchesEqualSequencesAloneOnSyntheticGqaModel) {
  // One file per level: ctest -j runs the levels' instances side by side.
  const std::string path = write_gqa_checkpoint("ladle_gqa_" + std::string(isa_name(GetParam())) + ".bin", 3);
  ASSERT_FALSE(path.empty());
  expect_invariant(path, 2);
  expect_invariant(path, 1);
}

// A slice dropped mid-step (a request cancelled while the step runs) leaves the other slices'
// logits exactly as if it had never been in the batch, and leaves no trace for a later step that
// recomputes its positions. Dropping every slice ends the step with no logits.
TEST(TransformerBatch, DroppedSlicesLeaveNoTrace) {
  auto model = Transformer::load(kModels + "/stories260K.bin", RuntimeLimits{32, 3, 2});
  ASSERT_TRUE(model.ok());
  Transformer& m = **model;
  const Seq a{{1, 403, 407, 261, 378, 432, 383, 290, 301}, {1, 0}};
  const Seq b{{1, 290, 301, 403, 261}, {3}};
  const Seq d{{1, 378, 432}, {2}};
  kvcache::KvStore fresh(m.kv_shape(kBlockSize), 4);
  const auto want_a = alone(m, fresh, a);
  const auto want_b = alone(m, fresh, b);

  kvcache::KvStore kv(m.kv_shape(kBlockSize), 4);
  ForwardBatch prefix{{a.tokens.begin(), a.tokens.begin() + 4}, {0, 1, 2, 3}, {{0, 4, 4, a.table, true}}};
  m.forward(prefix, kv);
  // One step: a's last five tokens, then b's prompt (dropped before layer 2), then d (dropped before layer 3).
  ForwardBatch step{{a.tokens.begin() + 4, a.tokens.end()}, {4, 5, 6, 7, 8}, {{0, 5, 9, a.table, true}}};
  step.seqs.push_back({5, 5, 5, b.table, true});
  step.seqs.push_back({10, 3, 3, d.table, true});
  for (int p = 0; p < 5; ++p) step.token_ids.push_back(b.tokens[p]), step.positions.push_back(p);
  for (int p = 0; p < 3; ++p) step.token_ids.push_back(d.tokens[p]), step.positions.push_back(p);
  int layer = 0;
  const auto r = m.forward_dropping(step, kv, [&]() -> std::vector<int> {
    ++layer;
    if (layer == 1) return {1};
    if (layer == 2) return {2, 1};  // dropping twice is harmless
    return {};
  });
  EXPECT_EQ(r.dropped, (std::vector<bool>{false, true, true}));
  ASSERT_EQ(r.logits.size(), std::size_t(m.config().vocab_size));
  EXPECT_EQ(std::vector<float>(r.logits.begin(), r.logits.end()), want_a[8]);

  // b starts over from scratch in its own step, over the rows it half-wrote.
  ForwardBatch again{b.tokens, {0, 1, 2, 3, 4}, {{0, 5, 5, b.table, true}}};
  const auto lb = m.forward(again, kv);
  EXPECT_EQ(std::vector<float>(lb.begin(), lb.end()), want_b[4]);

  const auto none = m.forward_dropping(again, kv, [] { return std::vector<int>{0}; });
  EXPECT_TRUE(none.logits.empty());
  EXPECT_EQ(none.dropped, std::vector<bool>{true});
}

TEST_P(TransformerBatchAtLevel, HalfWeightsMixedBatchesEqualSequencesAlone) {
  expect_invariant(kModels + "/stories260K.bin", 2, WeightType::kF16);
  const std::string path = write_gqa_checkpoint("ladle_gqa_f16_" + std::string(isa_name(GetParam())) + ".bin", 5);
  ASSERT_FALSE(path.empty());
  expect_invariant(path, 2, WeightType::kF16);
}

// q8 weights (block-quantized int8 panels, with a q8 classifier and so no argmax screen): the same
// batch invariance, on stories260K (K = 172: a short last block) and a GQA shape, with int8
// activations (each row quantized on its own) and with float ones.
TEST_P(TransformerBatchAtLevel, Q8WeightsMixedBatchesEqualSequencesAlone) {
  const std::string path = write_gqa_checkpoint("ladle_gqa_q8_" + std::string(isa_name(GetParam())) + ".bin", 6);
  ASSERT_FALSE(path.empty());
  for (Q8Activations a : {Q8Activations::kInt8, Q8Activations::kFloat}) {
    SCOPED_TRACE(q8_activations_name(a));
    expect_invariant(kModels + "/stories260K.bin", 2, WeightType::kQ8, kvcache::KvDtype::kF32, a);
    expect_invariant(path, 2, WeightType::kQ8, kvcache::KvDtype::kF32, a);
  }
}

// Logits of every position of one teacher-forced sequence with `weights`.
std::vector<std::vector<float>> logits_with(const std::string& path, WeightType weights, const Seq& s) {
  auto model = Transformer::load(path, RuntimeLimits{16, 2, 2, weights});
  EXPECT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->weights().type(), weights);
  kvcache::KvStore kv((*model)->kv_shape(kBlockSize), 4);
  return alone(**model, kv, s);
}

// Half weights change each logit by rounding only: on a synthetic model (weights ±1/√fan_in,
// where a half keeps 11 significant bits, relative error <= 2^-11 per weight) every logit stays
// within a small fraction of the logits' spread, and the largest logit keeps its place nearly
// always. They must differ somewhere, or the half path was not taken.
TEST(TransformerHalf, LogitsStayCloseToFp32) {
  for (bool shared : {true, false}) {
    ModelConfig cfg;
    cfg.dim = 128; cfg.hidden_dim = 344; cfg.n_layers = 3; cfg.n_heads = 4; cfg.n_kv_heads = 4;
    cfg.vocab_size = 512; cfg.seq_len = 64; cfg.shared_classifier = shared;
    const std::string path = ::testing::TempDir() + "/ladle_half_close.bin";
    ASSERT_TRUE(write_synthetic_checkpoint(path, cfg, 11).ok());
    Seq s{{1}, {0, 1, 2, 3}};
    std::mt19937 rng(3);
    while (s.tokens.size() < 48) s.tokens.push_back(TokenId(2 + rng() % 510));
    const auto f32 = logits_with(path, WeightType::kF32, s);
    const auto f16 = logits_with(path, WeightType::kF16, s);
    ASSERT_EQ(f32.size(), f16.size());
    double max_diff = 0;
    int same_argmax = 0;
    for (std::size_t p = 0; p < f32.size(); ++p) {
      const auto [lo, hi] = std::minmax_element(f32[p].begin(), f32[p].end());
      const double spread = *hi - *lo;
      for (std::size_t v = 0; v < f32[p].size(); ++v) {
        const double d = std::fabs(double(f32[p][v]) - f16[p][v]);
        max_diff = std::max(max_diff, d);
        ASSERT_LT(d, 0.01 * spread) << "pos " << p << " token " << v << " shared " << shared;
      }
      same_argmax += argmax(f32[p]) == argmax(f16[p]);
    }
    EXPECT_GT(max_diff, 0.0) << "half weights gave the fp32 logits bit for bit";
    EXPECT_GE(same_argmax, int(f32.size()) - 2);
  }
}

// On the real stories260K, greedy decoding with half weights keeps run.c's text for a good while
// (it is a different rounding of the same model, so it may part ways eventually).
TEST(TransformerHalf, GreedyTextFollowsRunCOnStories260K) {
  auto model = Transformer::load(kModels + "/stories260K.bin", RuntimeLimits{64, 4, 2, WeightType::kF16});
  ASSERT_TRUE(model.ok()) << model.error().message;
  kvcache::KvStore kv((*model)->kv_shape(kBlockSize), 512 / kBlockSize);
  const std::vector<TokenId> f32_trace = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338};
  const auto got = greedy(**model, kv, {1, 403, 407, 261, 378}, 21);
  ASSERT_EQ(got.size(), f32_trace.size() + 4);
  EXPECT_TRUE(std::equal(f32_trace.begin(), f32_trace.end(), got.begin()));
}

// A whole forward pass at each level gives the portable build's logits bit for bit: prefill
// chunks and decode steps of two sequences in mixed batches, on stories260K (8-float heads: the
// lane path of attention) and on a synthetic GQA model with head size 16 and a partial last panel
// (N = 300), with fp32 and half weights and K/V.
std::vector<float> mixed_steps_logits(const std::string& path, WeightType weights, kvcache::KvDtype kv_dtype) {
  RuntimeLimits limits{64, 4, 2, weights};
  auto model = Transformer::load(path, limits);
  EXPECT_TRUE(model.ok()) << model.error().message;
  Transformer& m = **model;
  kvcache::KvStore kv(m.kv_shape(kBlockSize, kv_dtype), 8);
  const BlockTable ta = {0, 2, 4}, tb = {1, 3, 5};
  std::mt19937 rng(5);
  std::vector<TokenId> a = {1}, b = {1};
  while (a.size() < 40) a.push_back(TokenId(2 + rng() % 290)), b.push_back(TokenId(2 + rng() % 290));
  std::vector<float> all;
  // Step 1: a's first 23 tokens and b's first 9; then steps of one token of a and three of b.
  auto step = [&](int a0, int na, int b0, int nb) {
    ForwardBatch batch;
    batch.seqs.push_back({0, na, a0 + na, ta, true});
    batch.seqs.push_back({na, nb, b0 + nb, tb, true});
    for (int p = a0; p < a0 + na; ++p) batch.token_ids.push_back(a[p]), batch.positions.push_back(p);
    for (int p = b0; p < b0 + nb; ++p) batch.token_ids.push_back(b[p]), batch.positions.push_back(p);
    const auto l = m.forward(batch, kv);
    all.insert(all.end(), l.begin(), l.end());
  };
  step(0, 23, 0, 9);
  for (int i = 0; i < 5; ++i) step(23 + i, 1, 9 + 3 * i, 3);
  return all;
}

class TransformerAtLevel : public testing::IsaLevelTest {};
LADLE_INSTANTIATE_ISA_LEVELS(TransformerAtLevel);

TEST_P(TransformerAtLevel, ForwardStepsGiveThePortableBits) {
  if (GetParam() == Isa::kPortable) GTEST_SKIP() << "the portable build is the reference here";
  const std::string synthetic = write_gqa_checkpoint("ladle_levels.bin", 9);
  ASSERT_FALSE(synthetic.empty());
  for (const std::string& path : {kModels + "/stories260K.bin", synthetic})
    for (const WeightType weights : {WeightType::kF32, WeightType::kF16})
      for (const kvcache::KvDtype kv : {kvcache::KvDtype::kF32, kvcache::KvDtype::kF16}) {
        const auto here = mixed_steps_logits(path, weights, kv);
        std::vector<float> portable;
        {
          const ScopedIsa level(Isa::kPortable);
          portable = mixed_steps_logits(path, weights, kv);
        }
        ASSERT_EQ(here.size(), portable.size());
        EXPECT_EQ(0, std::memcmp(here.data(), portable.data(), here.size() * sizeof(float)))
            << path << (weights == WeightType::kF16 ? " f16 weights" : " f32 weights")
            << (kv == kvcache::KvDtype::kF16 ? " f16 kv" : " f32 kv");
      }
}

TEST(TransformerBatch, ThreadCountDoesNotChangeLogits) {
  std::vector<std::vector<float>> got[2];
  for (int threads : {1, 2}) {
    auto model = Transformer::load(kModels + "/stories260K.bin", RuntimeLimits{16, 2, threads});
    ASSERT_TRUE(model.ok());
    kvcache::KvStore kv((*model)->kv_shape(kBlockSize), 2);
    got[threads - 1] = alone(**model, kv, Seq{{1, 403, 407, 261, 378, 432, 383}, {1, 0}});
  }
  EXPECT_EQ(got[0], got[1]);
}

TEST(Transformer, RejectsBadLimitsAndMissingFile) {
  EXPECT_FALSE(Transformer::load(kModels + "/stories260K.bin", RuntimeLimits{0, 4, 1}).ok());
  auto missing = Transformer::load("/nonexistent/model.bin", RuntimeLimits{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ladle::model
