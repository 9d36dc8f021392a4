// engine_bench --replay: a served open-loop run's arrivals submitted offline (benches.h).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/engine/benches.h"

namespace ladle::bench {

std::optional<std::vector<Arrival>> load_replay(const std::string& path) {
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("runs") || !j["runs"].is_array() || j["runs"].empty() ||
      !j["runs"][0].is_object())
    return std::nullopt;
  std::vector<Arrival> out;
  for (const auto& s : j["runs"][0].value("samples", nlohmann::json::array())) {
    if (!s.is_object() || !s.value("ok", false)) continue;
    Arrival a;
    a.at_s = s.value("start_s", 0.0);
    a.prompt_tokens = s.value("prompt_tokens", 0);
    a.output_tokens = s.value("output_tokens", 0);
    if (a.prompt_tokens < 1 || a.output_tokens < 1) continue;
    if (a.output_tokens >= 2) a.served_tpot_ms = s.value("tpot_ms", -1.0);
    out.push_back(a);
  }
  if (out.empty()) return std::nullopt;
  std::stable_sort(out.begin(), out.end(), [](const Arrival& a, const Arrival& b) { return a.at_s < b.at_s; });
  return out;
}

bool bench_replay(const std::string& shape, const std::string& path, const std::string& tok,
                  const std::vector<Arrival>& arrivals, const Options& o) {
  const int max_running = o.max_running > 0 ? o.max_running : 32;
  StepRecorder rec;
  auto engine = start_engine(path, tok, max_running, o, &rec);
  if (!engine) return false;
  const model::ModelConfig mc = shape_config(shape);
  std::mt19937 rng(42);
  Finished finished;
  std::vector<std::shared_ptr<Latch>> sinks;
  const auto t0 = Clock::now();
  for (const Arrival& a : arrivals) {
    std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.at_s)));
    sinks.push_back(std::make_shared<Latch>(&finished));
    const int prompt_len = std::min(a.prompt_tokens, mc.seq_len - a.output_tokens);
    if (!engine->submit(greedy_request(rng, prompt_len, a.output_tokens, mc.vocab_size), sinks.back())) {
      std::fprintf(stderr, "replay: the engine refused a request (does the run fit the %s shape?)\n", shape.c_str());
      engine->stop();
      return false;
    }
  }
  finished.wait_for(int(arrivals.size()));
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  engine->stop();
  double offline = 0, served = 0;
  long tokens = 0;
  int n = 0;
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    tokens += sinks[i]->tokens();
    const auto t = sinks[i]->tpot_ms();
    if (!t || arrivals[i].served_tpot_ms < 0) continue;
    offline += *t, served += arrivals[i].served_tpot_ms, ++n;
  }
  if (n == 0) return false;
  const DecodeSteps d = decode_steps(rec.steps);
  std::printf("| %s | %zu | %d | %.0f | %.1f | %.3f | %.3f | %.3f | %+.1f%% |\n", shape.c_str(), arrivals.size(),
              max_running, tokens / wall, double(d.tokens) / double(std::max<std::size_t>(1, d.ms.size())), d.mean_ms(),
              offline / n, served / n, 100 * (served / offline - 1));
  std::fflush(stdout);
  return true;
}

}  // namespace ladle::bench
