// engine_bench's closed-loop throughput table (benches.h).
#include <algorithm>
#include <cstdio>
#include <thread>

#include "bench/bench_args.h"
#include "bench/engine/benches.h"
#include "bench/machine_limits.h"

namespace ladle::bench {

namespace {

// One run's figures: generated tokens/s over the whole wall time, over decode steps only, and the
// decode steps' durations.
struct Throughput {
  double tok_s = 0, decode_tok_s = 0, step_mean_ms = 0, step_p50_ms = 0, step_p99_ms = 0;
  double tpot_mean_ms = 0;  // per request, then averaged, as `ladle bench` reports it
};

std::optional<Throughput> run_throughput(const std::string& shape, const std::string& path, const std::string& tok,
                                         int conc, int logprobs, const Options& o) {
  StepRecorder rec;
  auto engine = start_engine(path, tok, o.max_running > 0 ? o.max_running : conc, o, &rec);
  if (!engine) return std::nullopt;
  const model::ModelConfig mc = shape_config(shape);
  const int prompt_len = std::min(o.prompt_len, mc.seq_len - o.new_tokens - 1);
  std::mt19937 rng(42);
  std::vector<std::shared_ptr<Latch>> sinks;
  Finished finished;
  const int total = std::max(conc, o.num_requests);
  auto submit_one = [&] {
    sinks.push_back(std::make_shared<Latch>(&finished));
    return bool(engine->submit(bench_request(rng, prompt_len, o.new_tokens, mc.vocab_size, o.temperature, logprobs),
                               sinks.back()));
  };
  const auto t0 = Clock::now();
  for (int i = 0; i < conc; ++i)
    if (!submit_one()) return std::nullopt;
  // Closed loop: whenever one of the `conc` requests in flight finishes, the next is submitted.
  for (int submitted = conc;;) {
    std::unique_lock lock(finished.mu);
    finished.cv.wait(lock, [&] { return finished.count == total || finished.count > submitted - conc; });
    if (finished.count == total) break;
    lock.unlock();
    if (!submit_one()) return std::nullopt;
    ++submitted;
  }
  long tokens = 0;
  double tpot_sum = 0;
  int tpot_n = 0;
  for (const auto& s : sinks) {
    tokens += s->tokens();
    if (auto t = s->tpot_ms()) tpot_sum += *t, ++tpot_n;
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  engine->stop();

  const DecodeSteps d = decode_steps(rec.steps);
  Throughput t;
  t.tok_s = tokens / wall;
  t.decode_tok_s = d.seconds > 0 ? d.tokens / d.seconds : 0;
  t.step_mean_ms = d.mean_ms();
  t.step_p50_ms = ladle::bench::percentile(d.ms, 50);
  t.step_p99_ms = ladle::bench::percentile(d.ms, 99);
  t.tpot_mean_ms = tpot_n > 0 ? tpot_sum / tpot_n : 0;
  return t;
}

}  // namespace

void bench_throughput(const std::string& shape, const std::string& path, const std::string& tok, const Options& o) {
  // One row per (concurrency, logprobs) pair, the logprobs values of a level next to each other.
  std::vector<int> levels, logprobs;
  const std::vector<int> lp_values = parse_ints(o.logprobs);
  for (int c : parse_ints(o.concurrency))
    for (int lp : lp_values) levels.push_back(c), logprobs.push_back(lp);
  std::vector<std::vector<Throughput>> runs(levels.size());
  std::vector<std::vector<double>> ratios(levels.size());
  std::vector<double> peaks;
  const model::ModelConfig mc = shape_config(shape);
  const double flops_per_token = 2.0 * double(mc.matmul_params());
  for (int round = 0; round < o.rounds; ++round)
    for (std::size_t i = 0; i < levels.size(); ++i) {
      peaks.push_back(ladle::bench::measure_sgemm_peak());
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let OpenBLAS's workers go idle
      if (auto t = run_throughput(shape, path, tok, levels[i], logprobs[i], o)) {
        runs[i].push_back(*t);
        ratios[i].push_back(t->decode_tok_s * flops_per_token / 1e9 / peaks.back());
      }
    }
  const double peak = ladle::bench::best_of(peaks);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (runs[i].empty()) continue;
    std::vector<double> whole, decode;
    for (const Throughput& t : runs[i]) whole.push_back(t.tok_s), decode.push_back(t.decode_tok_s);
    const Throughput& best = *std::max_element(runs[i].begin(), runs[i].end(), [](const auto& a, const auto& b) {
      return a.decode_tok_s < b.decode_tok_s;
    });
    const double gflops = best.decode_tok_s * flops_per_token / 1e9;
    const std::string seqs =
        std::to_string(levels[i]) + (lp_values.size() > 1 ? " logprobs " + std::to_string(logprobs[i]) : "");
    std::printf("| %s | %s | %.0f (%.0f) | %.0f (%.0f) | %.3f / %.3f / %.3f | %.1f | %.0f%% (%.0f%%) | %.3f |\n",
                shape.c_str(), seqs.c_str(), ladle::bench::best_of(whole), ladle::bench::percentile(whole, 50),
                best.decode_tok_s, ladle::bench::percentile(decode, 50), best.step_mean_ms, best.step_p50_ms,
                best.step_p99_ms, gflops, 100 * gflops / peak, 100 * ladle::bench::percentile(ratios[i], 50),
                best.tpot_mean_ms);
  }
  std::printf("| %s | sgemm peak probes | %s GFLOP/s | best %.1f | | | | |\n", shape.c_str(),
              ladle::bench::join_rounded(peaks, ", ").c_str(), peak);
  std::fflush(stdout);
}

}  // namespace ladle::bench
