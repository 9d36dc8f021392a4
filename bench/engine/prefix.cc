// engine_bench's prefix-cache TTFT table (benches.h).
#include <cstdio>

#include "bench/bench_args.h"
#include "bench/engine/benches.h"

namespace ladle::bench {

void bench_prefix(const std::string& shape, const std::string& path, const std::string& tok, const Options& o) {
  StepRecorder rec;
  auto engine = start_engine(path, tok, 4, o, &rec);
  if (!engine) return;
  const model::ModelConfig mc = shape_config(shape);
  const int prefix_len = std::min(o.prefix_len, mc.seq_len - 40);
  std::mt19937 rng(7);
  auto prefix = random_prompt(rng, prefix_len, mc.vocab_size);
  auto ttft_of = [&](std::vector<TokenId> prompt) {
    rec.clear();
    GenerationRequest r;
    r.prompt_tokens = std::move(prompt);
    r.params.temperature = 0;
    r.params.max_tokens = 1;
    Finished finished;
    auto sink = std::make_shared<Latch>(&finished);
    if (!engine->submit(std::move(r), sink)) return 0.0;
    finished.wait_for(1);
    std::lock_guard lock(rec.mu_);
    return rec.ttfts.empty() ? 0.0 : rec.ttfts[0];
  };
  auto with_suffix = [&](int seed) {
    auto p = prefix;
    std::mt19937 r2(seed);
    auto s = random_prompt(r2, 9, mc.vocab_size);
    p.insert(p.end(), s.begin() + 1, s.end());
    return p;
  };
  std::vector<double> cold, warm;
  for (int i = 0; i < 3; ++i) {
    prefix = random_prompt(rng, prefix_len, mc.vocab_size);  // a new prefix: cold
    cold.push_back(ttft_of(with_suffix(100 + i)));
    warm.push_back(ttft_of(with_suffix(200 + i)));  // same prefix, other suffix: cached
  }
  const double c = ladle::bench::percentile(cold, 50), w = ladle::bench::percentile(warm, 50);
  std::printf("| %s | %d | %.1f | %.1f | %.3f |\n", shape.c_str(), prefix_len + 8, c * 1e3, w * 1e3, w / c);
  engine->stop();
}

}  // namespace ladle::bench
