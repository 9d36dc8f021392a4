// engine_bench: offline engine throughput (no HTTP) and prefix-cache TTFT, on synthetic
// checkpoints, with the machine's sgemm peak measured in the same run.
//
//   build/bench/engine_bench [--shapes 15m,110m] [--concurrency 1,8,32,64] [--prompt-len 32]
//                            [--new-tokens 128] [--prefix-len 512] [--threads 0] [--weights f32|f16]
//                            [--kv-cache-dtype f32|f16] [--rounds 1] [--num-requests 0] [--max-running 0]
//                            [--logprobs -1[,N...]] [--temperature 0]
//   build/bench/engine_bench --shapes tiny --replay RUN.json [--max-running 32] [--threads 1 ...]
//
// For each shape and concurrency C: C requests (random prompt ids, ignore_eos) are submitted at once
// to an LlmEngine with --max-running C, or the given --max-running (with --num-requests N > C, a
// closed loop: each finished request is replaced until N have run, as `ladle bench` drives a
// server); reported are aggregate generated tokens/s over the whole run, decode-step tokens/s and
// mean/p50/p99 step time from the engine's observer, model GFLOP/s (2 × matmul params per token)
// as a fraction of the measured sgemm peak, and the requests' mean TPOT as `ladle bench` computes
// it at the client. Then, per shape, time to first token of a request whose --prefix-len-token
// prefix is cached, over a cold one.
//
// --logprobs -1,5 runs every level once per value in each round, one right after the other (-1:
// no log-probabilities; N: every request asks for N top alternatives), so the rows compare the
// cost of log-probabilities on the same machine state. --temperature T > 0 samples (seeded)
// instead of decoding greedily.
//
// NOTE(bench): TPOT here and TPOT at a served client differ by more than the HTTP path. This closed
// loop resubmits a finished wave within one step, so the wave's prompts are prefilled together
// before any of it decodes; `ladle bench`'s clients resubmit over a few milliseconds, so a served
// wave's prefill chunks land in the decode phases of requests admitted a step earlier, and count in
// their TPOT. The per-token cost with and without HTTP is the decode-step column here against the
// server's ladle_decode_step_duration_seconds (sum / count) for the same load.
//
// --replay RUN.json takes the --json of an open-loop `ladle bench --request-rate R` run against
// `ladle serve` on the same checkpoint (/tmp/ladle_bench_<shape>.bin) and submits its requests at
// the times its client sent them, with their prompt and output lengths: the same arrivals with and
// without HTTP, so the TPOTs compare like for like. (A closed-loop run's send times depend on its
// own completions; replayed open-loop, a faster engine would run smaller batches.)
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/bench_args.h"
#include "bench/machine_limits.h"
#include "model/checkpoint_writer.h"
#include "model/config.h"
#include "model/tokenizer_writer.h"
#include "scheduler/flag_set.h"
#include "scheduler/llm_engine.h"

namespace {

using namespace ladle;
using namespace ladle::scheduler;
using Clock = std::chrono::steady_clock;

// Requests finished so far, shared by every Latch of a run (the closed loop waits on it).
struct Finished {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  void wait_for(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return count >= n; });
  }
};

// One request's sink: when its first text arrived, when it finished, how many tokens it made.
class Latch final : public TokenSink {
 public:
  explicit Latch(Finished* finished) : finished_(finished) {}
  void on_delta(std::string_view, int) override {
    if (!first_) first_ = Clock::now();  // engine thread only; read after on_finish
  }
  void on_finish(const Finish& f) override {
    const auto now = Clock::now();
    std::lock_guard lock(finished_->mu);
    end_ = now;
    tokens_ = f.usage.completion_tokens;
    ++finished_->count;
    finished_->cv.notify_all();
  }
  int tokens() const { return tokens_; }
  // Time per output token after the first, as `ladle bench` computes TPOT at the client:
  // (last token − first token) / (tokens − 1); nullopt below two tokens.
  std::optional<double> tpot_ms() const {
    if (!first_ || tokens_ < 2) return std::nullopt;
    return std::chrono::duration<double, std::milli>(end_ - *first_).count() / (tokens_ - 1);
  }

 private:
  Finished* finished_;
  std::optional<Clock::time_point> first_;
  Clock::time_point end_{};
  int tokens_ = 0;
};

class StepRecorder final : public EngineObserver {
 public:
  void on_request_rejected(ErrorCode) override {}
  void on_first_token(RequestId, double ttft) override {
    std::lock_guard lock(mu_);
    ttfts.push_back(ttft);
  }
  void on_next_token(RequestId, double) override {}
  void on_request_finished(const RequestStats&) override {}
  void on_step(const StepStats& s, const CounterDeltas&) override {
    std::lock_guard lock(mu_);
    steps.push_back(s);
  }
  void on_gauges(const EngineGauges&) override {}
  void clear() {
    std::lock_guard lock(mu_);
    steps.clear();
    ttfts.clear();
  }
  std::mutex mu_;
  std::vector<StepStats> steps;
  std::vector<double> ttfts;
};

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> out;
  for (const std::string& x : ladle::bench::split_commas(s)) out.push_back(std::stoi(x));
  return out;
}

// A preset shape by name (model::preset_config); any other name means 15m.
model::ModelConfig shape_config(const std::string& name) {
  return model::preset_config(name).value_or(*model::preset_config("15m"));
}

std::vector<TokenId> random_prompt(std::mt19937& rng, int n, int vocab) {
  std::vector<TokenId> p{1};
  std::uniform_int_distribution<int> d(3, vocab - 1);
  while (int(p.size()) < n) p.push_back(d(rng));
  return p;
}

// A greedy request for `max_tokens` tokens after a random prompt of `prompt_len` ids, never
// stopping early (ignore_eos), so every run does the same amount of work.
GenerationRequest greedy_request(std::mt19937& rng, int prompt_len, int max_tokens, int vocab) {
  GenerationRequest r;
  r.prompt_tokens = random_prompt(rng, prompt_len, vocab);
  r.params.temperature = 0;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  return r;
}

// greedy_request(), sampled at `temperature` (seeded: the same tokens every run) when it is > 0,
// with `logprobs` top alternatives per token (-1: none).
GenerationRequest bench_request(std::mt19937& rng, int prompt_len, int max_tokens, int vocab, float temperature,
                                int logprobs) {
  GenerationRequest r = greedy_request(rng, prompt_len, max_tokens, vocab);
  r.params.temperature = temperature;
  r.params.seed = rng();
  r.params.logprobs = logprobs;
  return r;
}

// The steps of a run that computed no prompt token.
struct DecodeSteps {
  std::vector<double> ms;  // each step's duration
  double seconds = 0;
  long tokens = 0;
  double mean_ms() const { return seconds / double(std::max<std::size_t>(1, ms.size())) * 1e3; }
};

DecodeSteps decode_steps(const std::vector<StepStats>& steps) {
  DecodeSteps d;
  for (const StepStats& s : steps)
    if (s.prefill_tokens == 0) d.ms.push_back(s.duration * 1e3), d.seconds += s.duration, d.tokens += s.decode_tokens;
  return d;
}

struct Options {
  std::string shapes = "15m,110m";
  std::string concurrency = "1,8,32,64";
  int prompt_len = 32;
  int new_tokens = 128;
  int prefix_len = 512;
  int threads = 0;
  std::string weights = "f32";
  std::string kv_cache_dtype = "f32";
  std::string isa = "auto";  // kernels' ISA level (model/isa.h)
  bool no_prefix_test = false;
  int rounds = 1;
  int num_requests = 0;  // > concurrency: a closed loop of this many requests, C at a time
  int max_running = 0;   // > 0: the engine's --max-running (else each level's concurrency)
  std::string replay;    // a `ladle bench --json` file of an open-loop run: replay its arrivals
  std::string logprobs = "-1";  // comma-separated SamplingParams::logprobs values, alternated
  float temperature = 0;        // 0: greedy requests
};

// One run's figures: generated tokens/s over the whole wall time, over decode steps only, and the
// decode steps' durations.
struct Throughput {
  double tok_s = 0, decode_tok_s = 0, step_mean_ms = 0, step_p50_ms = 0, step_p99_ms = 0;
  double tpot_mean_ms = 0;  // per request, then averaged, as `ladle bench` reports it
};

// A started engine on the checkpoint at `path`, with the options' threads, weights and K/V dtype;
// nullptr (after saying why) if it cannot load.
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

// Runs every concurrency level of `shape` `o.rounds` times, alternating (round r runs all levels,
// each right after its own sgemm peak probe), and prints one row per level: the best round and the
// median one. The machine is shared and its speed wanders by tens of percent over minutes;
// interference only ever slows a run down, so the best round is the least disturbed, and its
// ratio is taken to the best peak of the same rounds.
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

// One request of the served run being replayed.
struct Arrival {
  double at_s = 0;  // since the run's start, when the client sent it
  int prompt_tokens = 0;
  int output_tokens = 0;
  double served_tpot_ms = -1;  // the client's TPOT for it (< 0: fewer than two tokens)
};

// The successful requests of the first run in a `ladle bench --json` file, by send time.
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

// Submits `arrivals` at their send times (random prompt ids of their lengths, greedy, ignore_eos)
// to an engine with --max-running (default 32) and prints the offline TPOT against the served one
// over the same requests, with each side's decode-step figures.
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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  FlagSet flags("engine_bench [options]", "Offline engine throughput and prefix-cache TTFT on synthetic checkpoints.");
  flags.add("--shapes", &o.shapes, "comma-separated shapes: tiny (stories260K), 15m, 42m, 110m");
  flags.add("--no-prefix-test", &o.no_prefix_test, "skip the prefix-cache TTFT table");
  flags.add("--concurrency", &o.concurrency, "comma-separated concurrent sequences");
  flags.add("--prompt-len", &o.prompt_len, "prompt tokens per request");
  flags.add("--new-tokens", &o.new_tokens, "generated tokens per request");
  flags.add("--num-requests", &o.num_requests,
            "requests per level, C in flight at a time (closed loop, like `ladle bench`); default: one wave of C");
  flags.add("--max-running", &o.max_running,
            "the engine's running sequences at most (default: each concurrency level); below the concurrency, "
            "the rest wait in its queue, as requests to a server with that --max-running do");
  flags.add("--replay", &o.replay,
            "the --json of an open-loop `ladle bench --request-rate R` run against `ladle serve` on "
            "/tmp/ladle_bench_<shape>.bin: submit its requests at its send times and compare TPOT (one shape)");
  flags.add("--prefix-len", &o.prefix_len, "cached prefix tokens for the TTFT test");
  flags.add("--rounds", &o.rounds, "rounds over all concurrency levels (best and median are reported)");
  flags.add("--threads", &o.threads, "engine compute threads (0: as `ladle serve` derives them, all cores or one fewer for a tiny model)");
  flags.add("--weights", &o.weights, "matmul weights: f32 or f16");
  flags.add("--kv-cache-dtype", &o.kv_cache_dtype, "K/V cache values: f32 or f16");
  flags.add("--isa", &o.isa, "kernels' ISA level: auto, portable, avx2 or avx512");
  flags.add("--logprobs", &o.logprobs,
            "comma-separated log-probability requests, each level run once per value in every round: -1 "
            "(none) or 0..20 top alternatives");
  flags.add("--temperature", &o.temperature, "sampling temperature of the requests (0: greedy)");
  if (auto code = ladle::bench::parse_flags(flags, argc, argv)) return *code;
  if (auto type = model::parse_weight_type(o.weights); !type) {
    std::fprintf(stderr, "%s\n", type.error().message.c_str());
    return 2;
  }
  if (auto dtype = kvcache::parse_kv_dtype(o.kv_cache_dtype); !dtype) {
    std::fprintf(stderr, "%s\n", dtype.error().message.c_str());
    return 2;
  }
  o.rounds = std::max(1, o.rounds);
  std::optional<std::vector<Arrival>> replay;
  if (!o.replay.empty() && !(replay = load_replay(o.replay))) {
    std::fprintf(stderr, "--replay %s: not a `ladle bench --json` file with successful requests\n", o.replay.c_str());
    return 2;
  }
  if (replay) {
    std::printf("weights %s, KV cache %s; replaying %s\n\n", o.weights.c_str(), o.kv_cache_dtype.c_str(), o.replay.c_str());
    std::printf("| shape | requests | max running | tok/s | decode tokens per decode step | decode step ms | TPOT ms | served TPOT ms | served over offline |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  } else {
    std::printf("weights %s, KV cache %s; %d round(s): best (median); step times and GFLOP/s from the best round; sgemm peak (M=128, 2048x768) probed before every run\n\n",
                o.weights.c_str(), o.kv_cache_dtype.c_str(), o.rounds);
    std::printf("| shape | seqs | tok/s whole run | decode tok/s | decode step ms mean / p50 / p99 | model GFLOP/s | of sgemm peak | request TPOT ms mean |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  }
  for (const auto& shape : ladle::bench::split_commas(o.shapes)) {
    const int vocab = shape_config(shape).vocab_size;
    const std::string path = "/tmp/ladle_bench_" + shape + ".bin",
                      tok = "/tmp/ladle_bench_tok" + std::to_string(vocab) + ".bin";
    if (auto st = model::write_synthetic_checkpoint(path, shape_config(shape), 1234); !st) {
      std::fprintf(stderr, "%s\n", st.error().message.c_str());
      return 1;
    }
    if (auto st = model::write_synthetic_tokenizer(tok, vocab); !st) return 1;
    if (replay) return bench_replay(shape, path, tok, *replay, o) ? 0 : 1;  // one served run: one shape
    bench_throughput(shape, path, tok, o);
  }
  if (o.no_prefix_test) return 0;
  std::printf("\n| shape | prompt tokens | cold TTFT ms | cached-prefix TTFT ms | ratio |\n| --- | --- | --- | --- | --- |\n");
  for (const auto& shape : ladle::bench::split_commas(o.shapes))
    bench_prefix(shape, "/tmp/ladle_bench_" + shape + ".bin",
                 "/tmp/ladle_bench_tok" + std::to_string(shape_config(shape).vocab_size) + ".bin", o);
  return 0;
}
