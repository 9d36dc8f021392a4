// `ladle generate`: the run.c equivalent, through the real engine (scheduler, paged KV, sampler,
// UTF-8-safe text stream) with no HTTP. Prints the prompt, then the completion as it is generated,
// then a newline, exactly as llama2.c's run.c does; statistics go to stderr.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "scheduler/engine_observer.h"
#include "scheduler/llm_engine.h"
#include "tools/commands.h"

namespace ladle::tools {
namespace {

using Clock = std::chrono::steady_clock;

// Writes deltas to stdout as they come and wakes main() at the end.
class StdoutSink final : public scheduler::TokenSink {
 public:
  void on_delta(std::string_view text, int) override {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  void on_finish(const scheduler::Finish& f) override {
    std::lock_guard lock(mu_);
    finish_ = f;
    done_ = true;
    cv_.notify_all();
  }
  scheduler::Finish wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return finish_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  scheduler::Finish finish_;
};

// Collects the timings the statistics line needs.
class TimingObserver final : public scheduler::EngineObserver {
 public:
  void on_request_rejected(ErrorCode) override {}
  void on_first_token(RequestId, double ttft) override { ttft_ = ttft; }
  void on_next_token(RequestId, double gap) override { decode_seconds_ += gap; }
  void on_request_finished(const scheduler::RequestStats&) override {}
  void on_step(const scheduler::StepStats&, const scheduler::CounterDeltas&) override {}
  void on_gauges(const scheduler::EngineGauges&) override {}
  double ttft() const { return ttft_; }
  double decode_seconds() const { return decode_seconds_; }

 private:
  double ttft_ = 0;            // written on the engine thread, read after the request finished
  double decode_seconds_ = 0;
};

struct Options {
  scheduler::EngineConfig engine;
  std::string prompt;
  int max_tokens = 256;
  float temperature = 1.0f;
  float top_p = 0.9f;
  int top_k = 0;
  float min_p = 0.0f;
  std::uint64_t seed = 0;
  bool ignore_eos = false;
};

}  // namespace

int run_generate(std::span<const std::string> args) {
  Options o;
  FlagSet flags("ladle generate --model M [--tokenizer T] [-p PROMPT] [-n NEW_TOKENS] [options]",
                "Completes one prompt through the engine and streams the text to stdout (prompt first, as\n"
                "llama2.c's run.c does); a statistics line goes to stderr. Temperature 0 is greedy.");
  scheduler::add_engine_flags(flags, o.engine);
  flags.add("-p,--prompt", &o.prompt, "prompt text");
  flags.add("-n,--max-tokens", &o.max_tokens, "new tokens at most (also capped by the context)");
  flags.add("-t,--temperature", &o.temperature, "sampling temperature; 0 = greedy");
  flags.add("--top-p", &o.top_p, "nucleus sampling mass in (0, 1]");
  flags.add("--top-k", &o.top_k, "keep the k most likely tokens (0 = off)");
  flags.add("--min-p", &o.min_p, "drop tokens below min-p × the top probability");
  flags.add("-s,--seed", &o.seed, "random seed (0 = from the clock)");
  flags.add("--ignore-eos", &o.ignore_eos, "do not stop at the end-of-text token");
  if (auto st = flags.parse(args); !st) {
    std::fprintf(stderr, "ladle generate: %s\n", st.error().message.c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.help().c_str());
    return 0;
  }
  if (o.engine.max_running == 0) o.engine.max_running = 1;  // one request: size the KV cache for one

  TimingObserver timing;
  auto engine = scheduler::LlmEngine::create(o.engine, &timing);
  if (!engine) {
    std::fprintf(stderr, "ladle generate: %s\n", engine.error().message.c_str());
    return 1;
  }
  auto prompt = (*engine)->tokenize(o.prompt, /*add_special=*/true, /*parse_special=*/true);
  if (!prompt) {
    std::fprintf(stderr, "ladle generate: %s\n", prompt.error().message.c_str());
    return 1;
  }
  scheduler::GenerationRequest req;
  req.prompt_tokens = *prompt;
  req.params.temperature = o.temperature;
  req.params.top_p = o.top_p;
  req.params.top_k = o.top_k;
  req.params.min_p = o.min_p;
  req.params.max_tokens = o.max_tokens;
  req.params.ignore_eos = o.ignore_eos;
  req.params.seed = o.seed ? o.seed : std::uint64_t(Clock::now().time_since_epoch().count());

  auto echo = (*engine)->detokenize(req.prompt_tokens);
  if (echo) std::fputs(echo->c_str(), stdout);
  std::fflush(stdout);

  auto sink = std::make_shared<StdoutSink>();
  (*engine)->start();
  auto id = (*engine)->submit(std::move(req), sink);
  if (!id) {
    std::fprintf(stderr, "\nladle generate: %s\n", id.error().message.c_str());
    return 1;
  }
  const scheduler::Finish fin = sink->wait();
  std::printf("\n");
  std::fflush(stdout);
  (*engine)->stop();

  const int n = fin.usage.completion_tokens;
  const double decode_tps = n > 1 && timing.decode_seconds() > 0 ? (n - 1) / timing.decode_seconds() : 0.0;
  std::fprintf(stderr,
               "ladle generate: %d prompt tokens, %d new tokens (finish: %s); first token after %.1f ms; "
               "decode %.1f tok/s\n",
               fin.usage.prompt_tokens, n, scheduler::to_string(fin.reason), timing.ttft() * 1e3, decode_tps);
  return fin.reason == scheduler::FinishReason::kError ? 1 : 0;
}

}  // namespace ladle::tools
