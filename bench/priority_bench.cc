// priority_bench: interactive streams beside a batch load (issue 19), offline (no HTTP), on
// synthetic checkpoints.
//
//   build/bench/priority_bench [--shapes 15m,110m] [--clients 8] [--requests-per-client 8]
//                              [--prompt-len 32] [--new-tokens 64] [--batch-lines 2000]
//                              [--batch-new-tokens 64] [--itl-target-ms 0[,X...]] [--threads 0]
//                              [--max-running 0] [--batch-floor-share 0.0625]
//                              [--batch-step-share 0.2[,F...]] [--batch-yield]
//
// Per shape, three runs on fresh engines:
//  1. best: --batch-lines batch-class requests alone, all submitted at once: the engine's best
//     batched output tok/s, over two waves of --max-running requests (prompts and decodes: a window
//     of decodes alone would overstate it) after the first 200 tokens.
//  2. alone: --clients closed-loop streaming clients, each running --requests-per-client
//     interactive requests one after another: TTFT (submit → first text) and ITL (gap between two
//     text deliveries of a stream) at the client sink, p50 / p99, and output tok/s.
//  3. with batch: the same clients while --batch-lines batch requests (submitted first, all at once)
//     run; the window is the clients' run, and its output tok/s counts both classes. Repeated for
//     every --batch-step-share value (negative: off) and every --itl-target-ms value, reporting the
//     share of interactive ITLs over the target.
// Reported: interactive TTFT p99 and ITL p99 with the batch over alone (goal ≤ 1.2×) and total
// output tok/s with the batch over best (goal ≥ 0.9×). On stderr after runs 2 and 3: the run's
// step times fitted by the engine's StepCostModel (every step weighted alike): fixed, per token,
// per sampled row.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "bench/bench_args.h"
#include "model/checkpoint_writer.h"
#include "model/config.h"
#include "model/tokenizer_writer.h"
#include "scheduler/flag_set.h"
#include "scheduler/llm_engine.h"
#include "scheduler/step_cost_model.h"

namespace {

using namespace ladle;
using namespace ladle::scheduler;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Options {
  std::string shapes = "15m,110m";
  int clients = 8, requests_per_client = 8, prompt_len = 32, new_tokens = 64;
  int batch_lines = 2000, batch_new_tokens = 64, threads = 0, max_running = 0;
  std::string itl_targets = "0";
  std::string step_shares = "0.2";
  double batch_floor_share = 1.0 / 16;
  bool batch_yield = false;
};

// Generated tokens, from the engine's observer, and a fit of the run's step times (every step
// weighted alike) by the engine's own cost model: what a token and a sampled row cost here.
class TokenCounter final : public EngineObserver {
 public:
  void on_request_rejected(ErrorCode) override {}
  void on_first_token(RequestId, double) override { tokens.fetch_add(1, std::memory_order_relaxed); }
  void on_next_token(RequestId, double) override { tokens.fetch_add(1, std::memory_order_relaxed); }
  void on_batch_token(RequestId) override { tokens.fetch_add(1, std::memory_order_relaxed); }
  void on_request_finished(const RequestStats&) override {}
  void on_step(const StepStats& st, const CounterDeltas&) override { fit.observe(st.batch_tokens, st.sampled_rows, st.duration); }
  void on_gauges(const EngineGauges&) override {}
  std::atomic<long> tokens{0};
  StepCostModel fit{1.0};  // engine thread; read once the engine has stopped
};

// A streaming client's sink: when each piece of text arrived, and when it finished.
class StreamSink final : public TokenSink {
 public:
  void on_delta(std::string_view, int) override { deltas.push_back(Clock::now()); }  // engine thread
  void on_finish(const Finish&) override {
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  std::vector<Clock::time_point> deltas;  // read after wait()
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

class NullSink final : public TokenSink {
 public:
  void on_delta(std::string_view, int) override {}
  void on_finish(const Finish&) override {}
};

GenerationRequest request(std::mt19937& rng, int prompt_len, int max_tokens, int vocab, RequestClass cls) {
  GenerationRequest r;
  std::uniform_int_distribution<int> d(3, vocab - 1);
  r.prompt_tokens.push_back(1);
  while (int(r.prompt_tokens.size()) < prompt_len) r.prompt_tokens.push_back(d(rng));
  r.params.temperature = 0;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  r.request_class = cls;
  return r;
}

struct Result {
  std::vector<double> ttft_ms, itl_ms;
  double tok_s = 0;
};

std::unique_ptr<LlmEngine> make_engine(const std::string& path, const std::string& tok, const Options& o,
                                       double itl_target_ms, double step_share, TokenCounter* counter) {
  EngineConfig c;
  c.model_path = path;
  c.tokenizer_path = tok;
  c.threads = o.threads;
  c.max_running = o.max_running;
  c.max_waiting = o.batch_lines + o.clients + 16;
  c.itl_target_ms = itl_target_ms;
  c.batch_floor_share = o.batch_floor_share;
  c.batch_step_share = step_share;
  c.batch_yield = o.batch_yield;
  auto e = LlmEngine::create(c, counter);
  if (!e) {
    std::fprintf(stderr, "%s\n", e.error().message.c_str());
    std::exit(1);
  }
  (*e)->start();
  return std::move(*e);
}

// Runs the interactive clients (and, with `batch`, the batch load submitted first) on a fresh engine.
Result run(const std::string& path, const std::string& tok, int vocab, const Options& o, bool batch,
           double itl_target_ms, double step_share) {
  TokenCounter counter;
  auto engine = make_engine(path, tok, o, itl_target_ms, step_share, &counter);
  std::mt19937 rng(7);
  auto null_sink = std::make_shared<NullSink>();
  if (batch)
    for (int i = 0; i < o.batch_lines; ++i)
      if (!engine->submit(request(rng, o.prompt_len, o.batch_new_tokens, vocab, RequestClass::kBatch), null_sink))
        std::exit(1);
  if (batch) std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the batch is under way
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < o.clients * o.requests_per_client; ++i)
    reqs.push_back(request(rng, o.prompt_len, o.new_tokens, vocab, RequestClass::kInteractive));
  std::mutex mu;
  Result r;
  const long tokens0 = counter.tokens.load();
  const auto t0 = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < o.clients; ++c)
    clients.emplace_back([&, c] {
      for (int k = 0; k < o.requests_per_client; ++k) {
        auto sink = std::make_shared<StreamSink>();
        const auto sent = Clock::now();
        if (!engine->submit(reqs[std::size_t(c * o.requests_per_client + k)], sink)) std::exit(1);
        sink->wait();
        std::lock_guard lock(mu);
        if (sink->deltas.empty()) continue;
        r.ttft_ms.push_back(ms_between(sent, sink->deltas[0]));
        for (std::size_t i = 1; i < sink->deltas.size(); ++i)
          r.itl_ms.push_back(ms_between(sink->deltas[i - 1], sink->deltas[i]));
      }
    });
  for (auto& t : clients) t.join();
  const auto t1 = Clock::now();
  r.tok_s = double(counter.tokens.load() - tokens0) / (ms_between(t0, t1) / 1e3);
  engine->stop();
  const StepCostModel& f = counter.fit;
  std::fprintf(stderr, "step cost fit over the run's %d steps: %.3f ms + %.4f ms a token + %.4f ms a sampled row (scatter %.3f ms)\n",
               f.num_observations(), 1e3 * f.fixed_seconds(), 1e3 * f.seconds_per_token(),
               1e3 * f.seconds_per_sampled_row(), 1e3 * f.scatter_seconds());
  return r;
}

// The batch alone: output tok/s over two waves of max-running requests.
double best_throughput(const std::string& path, const std::string& tok, int vocab, const Options& o) {
  TokenCounter counter;
  auto engine = make_engine(path, tok, o, 0, 0.2, &counter);  // no interactive work: the share never applies
  const long tokens = 2L * engine->config().max_running * o.batch_new_tokens;
  std::mt19937 rng(7);
  auto null_sink = std::make_shared<NullSink>();
  for (int i = 0; i < o.batch_lines; ++i)
    if (!engine->submit(request(rng, o.prompt_len, o.batch_new_tokens, vocab, RequestClass::kBatch), null_sink))
      std::exit(1);
  while (counter.tokens.load() < 200) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const long n0 = counter.tokens.load();
  const auto t0 = Clock::now();
  while (counter.tokens.load() < n0 + tokens) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double tok_s = double(counter.tokens.load() - n0) / (ms_between(t0, Clock::now()) / 1e3);
  engine->stop();
  return tok_s;
}

double share_over(const std::vector<double>& v, double limit) {
  if (v.empty()) return 0;
  return double(std::count_if(v.begin(), v.end(), [&](double x) { return x > limit; })) / double(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  FlagSet flags("priority_bench [options]", "Interactive streams alone and beside a batch load (issue 19), offline.");
  flags.add("--shapes", &o.shapes, "synthetic shapes, comma-separated");
  flags.add("--clients", &o.clients, "interactive streaming clients");
  flags.add("--requests-per-client", &o.requests_per_client, "requests each client runs one after another");
  flags.add("--prompt-len", &o.prompt_len, "prompt tokens of every request");
  flags.add("--new-tokens", &o.new_tokens, "tokens per interactive request");
  flags.add("--batch-lines", &o.batch_lines, "batch-class requests submitted at the start");
  flags.add("--batch-new-tokens", &o.batch_new_tokens, "tokens per batch request");
  flags.add("--itl-target-ms", &o.itl_targets, "ITL targets for the with-batch runs, comma-separated (0: off)");
  flags.add("--threads", &o.threads, "compute threads (0: derive)");
  flags.add("--max-running", &o.max_running, "running sequences at most (0: derive)");
  flags.add("--batch-floor-share", &o.batch_floor_share, "share of each step kept for batch work");
  flags.add("--batch-yield", &o.batch_yield, "the engine's --batch-yield (a batch-only step stops for an interactive arrival)");
  flags.add("--batch-step-share", &o.step_shares,
            "batch step shares for the with-batch runs, comma-separated (negative: off)");
  if (auto code = bench::parse_flags(flags, argc, argv)) return *code;

  std::printf("%d clients x %d requests (prompt %d, %d new tokens); %d batch lines (%d new tokens); "
              "batch floor share %g\n\n",
              o.clients, o.requests_per_client, o.prompt_len, o.new_tokens, o.batch_lines, o.batch_new_tokens,
              o.batch_floor_share);
  std::printf("| shape | run | batch step share | ITL target ms | TTFT ms p50 / p99 | ITL ms p50 / p99 | ITLs over target | "
              "output tok/s | TTFT p99 / alone | ITL p99 / alone | tok/s / best |\n"
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const auto& shape : bench::split_commas(o.shapes)) {
    const model::ModelConfig mc = model::preset_config(shape).value_or(*model::preset_config("15m"));
    const std::string path = "/tmp/ladle_bench_" + shape + ".bin",
                      tok = "/tmp/ladle_bench_tok" + std::to_string(mc.vocab_size) + ".bin";
    if (!model::write_synthetic_checkpoint(path, mc, 1234) || !model::write_synthetic_tokenizer(tok, mc.vocab_size))
      return 1;
    const double best = best_throughput(path, tok, mc.vocab_size, o);
    std::printf("| %s | batch alone (best) | - | - | - | - | - | %.0f | - | - | 1.00 |\n", shape.c_str(), best);
    std::fflush(stdout);
    const Result alone = run(path, tok, mc.vocab_size, o, false, 0, 0.2);
    const double ttft99 = bench::percentile(alone.ttft_ms, 99), itl99 = bench::percentile(alone.itl_ms, 99);
    std::printf("| %s | interactive alone | - | - | %.1f / %.1f | %.1f / %.1f | - | %.0f | 1.00 | 1.00 | %.2f |\n",
                shape.c_str(), bench::percentile(alone.ttft_ms, 50), ttft99, bench::percentile(alone.itl_ms, 50), itl99,
                alone.tok_s, alone.tok_s / best);
    std::fflush(stdout);
    for (const auto& share_s : bench::split_commas(o.step_shares)) {
      for (const auto& target_s : bench::split_commas(o.itl_targets)) {
        const double share = std::stod(share_s), target = std::stod(target_s);
        const Result with = run(path, tok, mc.vocab_size, o, true, target, share);
        char over[32] = "-";
        if (target > 0) std::snprintf(over, sizeof over, "%.1f %%", 100 * share_over(with.itl_ms, target));
        std::printf("| %s | with batch | %s | %s | %.1f / %.1f | %.1f / %.1f | %s | %.0f | %.2f | %.2f | %.2f |\n",
                    shape.c_str(), share < 0 ? "off" : share_s.c_str(), target > 0 ? target_s.c_str() : "off",
                    bench::percentile(with.ttft_ms, 50), bench::percentile(with.ttft_ms, 99),
                    bench::percentile(with.itl_ms, 50), bench::percentile(with.itl_ms, 99), over, with.tok_s,
                    bench::percentile(with.ttft_ms, 99) / ttft99, bench::percentile(with.itl_ms, 99) / itl99,
                    with.tok_s / best);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
