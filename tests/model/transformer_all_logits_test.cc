// Transformer with SequenceSlice::all_logits (prompt log-probabilities): a slice asking for every
// row's logits gets them, bit for bit those of its positions computed one token per step, beside
// slices that want only their last row (or none), in more rows than max_seqs; the greedy screen
// never answers a step that has such a slice; and the room those rows took is given back.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "model/sampler.h"
#include "model/transformer.h"

namespace ladle::model {
namespace {

constexpr int kBlockSize = 16;

struct Seq {
  std::vector<TokenId> tokens;
  BlockTable table;
};

// Logits of every position of `s`, one token per step.
std::vector<std::vector<float>> one_by_one(Transformer& m, kvcache::KvStore& kv, const Seq& s) {
  std::vector<std::vector<float>> out;
  for (int p = 0; p < int(s.tokens.size()); ++p) {
    ForwardBatch b{{s.tokens[std::size_t(p)]}, {p}, {{0, 1, p + 1, s.table, true}}};
    auto l = m.forward(b, kv);
    out.emplace_back(l.begin(), l.end());
  }
  return out;
}

void add_chunk(ForwardBatch& b, const Seq& s, int from, int n, bool needs_logits, bool all_logits) {
  SequenceSlice slice{b.num_tokens(), n, from + n, s.table, needs_logits};
  slice.all_logits = all_logits;
  b.seqs.push_back(slice);
  for (int p = from; p < from + n; ++p) b.token_ids.push_back(s.tokens[std::size_t(p)]), b.positions.push_back(p);
}

TEST(TransformerAllLogits, EveryRowEqualsOneTokenSteps) {
  // max_seqs 4: the 40-row slice takes ten times the rows the step buffers start with.
  auto model = Transformer::load(std::string(LADLE_MODELS_DIR) + "/stories260K.bin", RuntimeLimits{96, 4, 2});
  ASSERT_TRUE(model.ok()) << model.error().message;
  Transformer& m = **model;
  const std::size_t vocab = std::size_t(m.config().vocab_size);
  kvcache::KvStore kv(m.kv_shape(kBlockSize), 3 * 4);
  std::mt19937 rng(3);
  std::vector<Seq> seqs(3);
  for (int i = 0; i < 3; ++i) {
    seqs[std::size_t(i)].tokens.push_back(1);
    for (int p = 1; p < 48; ++p) seqs[std::size_t(i)].tokens.push_back(TokenId(3 + rng() % (vocab - 3)));
    for (int b = 0; b < 4; ++b) seqs[std::size_t(i)].table.push_back(BlockId(b * 3 + i));
  }
  std::vector<std::vector<std::vector<float>>> ref;
  for (const Seq& s : seqs) ref.push_back(one_by_one(m, kv, s));
  auto expect_row = [&](std::span<const float> logits, std::size_t row, int seq, int pos) {
    ASSERT_EQ(0, std::memcmp(ref[std::size_t(seq)][std::size_t(pos)].data(), logits.data() + row * vocab,
                             vocab * sizeof(float)))
        << "seq " << seq << " pos " << pos;
  };

  // Step 1: seq 0's first 40 rows, all of them (not sampled); seq 1's first 30 with its last row
  // (greedy); seq 2's first 10 without logits.
  ForwardBatch b;
  add_chunk(b, seqs[0], 0, 40, false, true);
  add_chunk(b, seqs[1], 0, 30, true, false);
  add_chunk(b, seqs[2], 0, 10, false, false);
  b.seqs[1].argmax_only = true;
  ASSERT_EQ(b.num_logit_rows(), 41);
  auto r = m.forward_dropping(b, kv, {});
  ASSERT_TRUE(r.greedy.empty());  // a step with all_logits rows is never screened
  ASSERT_EQ(r.logits.size(), 41 * vocab);
  for (int p = 0; p < 40; ++p) expect_row(r.logits, std::size_t(p), 0, p);
  expect_row(r.logits, 40, 1, 29);

  // Step 2: seq 0's last 8 rows, all of them and sampled; seq 2's next 20 with its last row.
  ForwardBatch c;
  add_chunk(c, seqs[2], 10, 20, true, false);
  add_chunk(c, seqs[0], 40, 8, true, true);
  auto l = m.forward(c, kv);
  ASSERT_EQ(l.size(), 9 * vocab);
  expect_row(l, 0, 2, 29);
  for (int p = 40; p < 48; ++p) expect_row(l, std::size_t(1 + p - 40), 0, p);

  // Step 3: an ordinary greedy decode step afterwards: screened as before, same token.
  ForwardBatch d;
  add_chunk(d, seqs[1], 30, 1, true, false);
  d.seqs[0].argmax_only = true;
  auto g = m.forward_dropping(d, kv, {});
  ASSERT_EQ(g.greedy.size(), 1u);
  EXPECT_EQ(g.greedy[0], argmax(ref[1][30]));
}

}  // namespace
}  // namespace ladle::model
