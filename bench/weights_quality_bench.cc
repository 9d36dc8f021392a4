// weights_quality_bench: what `--weights f16|q8` changes in a model's output against its fp32
// weights, on one checkpoint: greedy text (how many of N tokens from BOS agree, the first
// divergence and the fp32 top-2 logit gap there) and the logits along the fp32 greedy sequence
// (teacher-forced: max and mean |Δlogit|, and the same relative to each row's logit spread).
//
// usage: weights_quality_bench MODEL.bin [--weights q8] [--q8-activations int8|float] [--tokens 256] [--threads 2]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kvcache/kv_store.h"
#include "model/sampler.h"
#include "model/transformer.h"

namespace {

using ladle::model::Transformer;

// One sequence from BOS: greedy (next token = argmax) unless `forced` gives the tokens; returns
// the logits of every position and (greedy) the tokens chosen.
struct Run {
  std::vector<int> tokens;                // tokens[0] = BOS, then one per position
  std::vector<std::vector<float>> logits;  // [n][vocab]
};

Run decode(Transformer& m, int n, const std::vector<int>* forced) {
  const int bs = 16, blocks = (n + bs) / bs;
  ladle::kvcache::KvStore kv(m.kv_shape(bs), blocks);
  ladle::BlockTable table;
  for (int b = 0; b < blocks; ++b) table.push_back(b);
  Run r;
  r.tokens.push_back(1);
  for (int pos = 0; pos < n; ++pos) {
    ladle::model::ForwardBatch b{{r.tokens.back()}, {pos}, {{0, 1, pos + 1, table, true}}};
    const auto l = m.forward(b, kv);
    r.logits.emplace_back(l.begin(), l.end());
    r.tokens.push_back(forced ? (*forced)[std::size_t(pos) + 1] : int(ladle::model::argmax(l)));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: weights_quality_bench MODEL.bin [--weights q8] [--q8-activations int8|float] [--tokens 256] [--threads 2]\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string path = argv[1];
  int tokens = 256, threads = 2;
  std::string weights = "q8", q8_activations = "int8";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    if (f == "--weights") weights = argv[i + 1];
    else if (f == "--q8-activations") q8_activations = argv[i + 1];
    else if (f == "--tokens") tokens = std::atoi(argv[i + 1]);
    else if (f == "--threads") threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", f.c_str());
      return 2;
    }
  }
  const auto type = ladle::model::parse_weight_type(weights);
  const auto q8 = ladle::model::parse_q8_activations(q8_activations);
  if (!type || !q8) {
    std::fprintf(stderr, "%s\n", (!type ? type.error() : q8.error()).message.c_str());
    return 2;
  }
  ladle::model::RuntimeLimits limits{16, 1, threads, ladle::model::WeightType::kF32};
  limits.argmax_screen = false;
  auto ref = Transformer::load(path, limits);
  limits.weights = *type;
  limits.q8_activations = *q8;
  auto test = Transformer::load(path, limits);
  if (!ref.ok() || !test.ok()) {
    std::fprintf(stderr, "cannot load %s: %s\n", path.c_str(), (ref.ok() ? test : ref).error().message.c_str());
    return 1;
  }
  tokens = std::min(tokens, (*ref)->config().seq_len);
  const Run a = decode(**ref, tokens, nullptr), b = decode(**test, tokens, nullptr);
  int agree = 0;
  while (agree < tokens && a.tokens[std::size_t(agree) + 1] == b.tokens[std::size_t(agree) + 1]) ++agree;
  int same = 0;
  for (int i = 1; i <= tokens; ++i) same += a.tokens[std::size_t(i)] == b.tokens[std::size_t(i)];
  std::printf("%s, %s vs f32, %d greedy tokens from BOS: first divergence at ", path.c_str(), weights.c_str(), tokens);
  if (agree == tokens) {
    std::printf("none (all agree)\n");
  } else {
    std::vector<float> row = a.logits[std::size_t(agree)];
    std::sort(row.begin(), row.end(), std::greater<>());
    std::printf("token %d (f32 picks %d, %s picks %d; f32's top-2 logit gap there %.4g); %d of %d positions agree\n",
                agree + 1, a.tokens[std::size_t(agree) + 1], weights.c_str(), b.tokens[std::size_t(agree) + 1],
                double(row[0] - row[1]), same, tokens);
  }
  // Teacher-forced on the f32 text.
  const Run forced = decode(**test, tokens, &a.tokens);
  double max_err = 0, sum_err = 0, max_rel = 0, sum_rel = 0;
  std::size_t count = 0;
  int top1 = 0;
  for (int p = 0; p < tokens; ++p) {
    const auto& x = a.logits[std::size_t(p)];
    const auto& y = forced.logits[std::size_t(p)];
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    const double spread = double(*hi - *lo);
    double row_max = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double e = std::fabs(double(x[i]) - double(y[i]));
      row_max = std::max(row_max, e);
      sum_err += e;
      ++count;
    }
    max_err = std::max(max_err, row_max);
    max_rel = std::max(max_rel, row_max / spread);
    sum_rel += row_max / spread;
    top1 += ladle::model::argmax(x) == ladle::model::argmax(y);
  }
  std::printf("teacher-forced on the f32 text: |dlogit| max %.4g, mean %.4g; per row max |dlogit| / logit spread: max "
              "%.4g, mean %.4g; same argmax at %d of %d positions\n",
              max_err, sum_err / double(count), max_rel, sum_rel / tokens, top1, tokens);
  return 0;
}
