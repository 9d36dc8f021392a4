// The engine benches' shared harness (harness.h).
#include "bench/engine/harness.h"

#include <algorithm>
#include <cstdio>

#include "bench/bench_args.h"

namespace ladle::bench {

using scheduler::EngineConfig;

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> out;
  for (const std::string& x : ladle::bench::split_commas(s)) out.push_back(std::stoi(x));
  return out;
}

model::ModelConfig shape_config(const std::string& name) {
  return model::preset_config(name).value_or(*model::preset_config("15m"));
}

std::vector<TokenId> random_prompt(std::mt19937& rng, int n, int vocab) {
  std::vector<TokenId> p{1};
  std::uniform_int_distribution<int> d(3, vocab - 1);
  while (int(p.size()) < n) p.push_back(d(rng));
  return p;
}

GenerationRequest greedy_request(std::mt19937& rng, int prompt_len, int max_tokens, int vocab) {
  GenerationRequest r;
  r.prompt_tokens = random_prompt(rng, prompt_len, vocab);
  r.params.temperature = 0;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  return r;
}

GenerationRequest bench_request(std::mt19937& rng, int prompt_len, int max_tokens, int vocab, float temperature,
                                int logprobs) {
  GenerationRequest r = greedy_request(rng, prompt_len, max_tokens, vocab);
  r.params.temperature = temperature;
  r.params.seed = rng();
  r.params.logprobs = logprobs;
  return r;
}

DecodeSteps decode_steps(const std::vector<StepStats>& steps) {
  DecodeSteps d;
  for (const StepStats& s : steps)
    if (s.prefill_tokens == 0) d.ms.push_back(s.duration * 1e3), d.seconds += s.duration, d.tokens += s.decode_tokens;
  return d;
}

std::unique_ptr<LlmEngine> start_engine(const std::string& path, const std::string& tok, int max_running,
                                        const Options& o, StepRecorder* rec) {
  EngineConfig cfg;
  cfg.model_path = path;
  cfg.tokenizer_path = tok;
  cfg.max_running = max_running;
  cfg.threads = o.threads;
  cfg.weights = o.weights;
  cfg.kv_cache_dtype = o.kv_cache_dtype;
  cfg.isa = o.isa;
  auto engine = LlmEngine::create(cfg, rec);
  if (!engine) {
    std::fprintf(stderr, "engine: %s\n", engine.error().message.c_str());
    return nullptr;
  }
  (*engine)->start();
  return std::move(*engine);
}

}  // namespace ladle::bench
