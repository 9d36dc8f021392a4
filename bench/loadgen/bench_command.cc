// `ladle bench`: load generator for any OpenAI-compatible streaming server (ladle, llama.cpp's
// llama-server, vLLM). Runs a closed-loop concurrency sweep or open-loop request rates, prints a
// `vllm bench serve`-shaped report per level, and optionally writes JSON and an SVG plot. With
// --alt-url, every level sends its requests to two addresses in turns and compares them
// (path_comparison.h).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "bench/loadgen/commands.h"
#include "bench/loadgen/http_get.h"
#include "bench/loadgen/load_driver.h"
#include "bench/loadgen/path_comparison.h"
#include "bench/loadgen/progress_line.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/svg_plot.h"
#include "scheduler/flag_set.h"

namespace ladle::loadgen {
namespace {

struct BenchFlags {
  std::string url = "http://127.0.0.1:8080";
  std::string alt_url;
  std::string endpoint = "/v1/completions";
  std::string model;
  std::string concurrency;   // "1,8,32,64"
  std::string request_rate;  // "2,4,inf"
  double burstiness = 1.0;
  int max_concurrency = 0;
  int num_requests = 100;
  double duration_s = 60;
  int warmup = 0;
  double jitter_ms = 0;
  int input_len = 32, output_len = 128, shared_prefix_len = 0;
  double range_ratio = 0;
  std::uint64_t seed = 0;
  bool ignore_eos = false;
  bool server_timing = false;
  double temperature = 0;
  double timeout_s = 120;
  bool mix = false;
  double drop_rate = 0;
  std::string goodput, json_path, plot_path;
};

Expected<std::vector<double>> parse_numbers(const std::string& text, const char* flag) {
  std::vector<double> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item == "inf") {
      out.push_back(std::numeric_limits<double>::infinity());
      continue;
    }
    char* end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v > 0))
      return make_error(ErrorCode::kInvalidArgument, std::string(flag) + ": bad value \"" + item + "\"");
    out.push_back(v);
  }
  return out;
}

void register_flags(FlagSet& f, BenchFlags& b) {
  f.add("--url", &b.url, "server base URL (the only address contacted, with --alt-url's)");
  f.add("--alt-url", &b.alt_url,
        "a second address (e.g. the same server through a proxy): each client sends its requests to --url "
        "and to this one in turns (two each), and each level compares the two (TTFT p50, ITL p99, 95% CIs)");
  f.add("--endpoint", &b.endpoint, "/v1/completions or /v1/chat/completions");
  f.add("--model", &b.model, "model name to send (default: the first id from GET /v1/models)");
  f.add("--concurrency", &b.concurrency, "closed loop: comma-separated client counts, e.g. 1,8,32,64 (default 1)");
  f.add("--request-rate", &b.request_rate, "open loop: comma-separated requests/s, 'inf' = all at once");
  f.add("--burstiness", &b.burstiness, "open loop: Gamma shape of arrivals (1 = Poisson)");
  f.add("--max-concurrency", &b.max_concurrency, "open loop: cap on requests in flight (0 = none)");
  f.add("--num-requests", &b.num_requests, "requests per level at most");
  f.add("--duration", &b.duration_s, "seconds per level after which no request is issued");
  f.add("--warmup", &b.warmup, "unrecorded requests before each level");
  f.add("--jitter", &b.jitter_ms,
        "closed loop: each client waits a random 0..MS ms before each request (not counted in any latency), "
        "so requests that end together do not all arrive at once in client order");
  f.add("--input-len", &b.input_len, "prompt length in words (≈ tokens)");
  f.add("--output-len", &b.output_len, "max_tokens per request");
  f.add("--range-ratio", &b.range_ratio, "lengths uniform in [len·(1−r), len·(1+r)]");
  f.add("--shared-prefix-len", &b.shared_prefix_len, "words of a prefix shared by every prompt");
  f.add("--seed", &b.seed, "workload, arrival and sampling seed");
  f.add("--ignore-eos", &b.ignore_eos, "send \"ignore_eos\": true (always generate --output-len tokens)");
  f.add("--temperature", &b.temperature, "sampling temperature sent");
  f.add("--server-timing", &b.server_timing,
        "ask ladle for its own TTFT in each stream (?server_timing=1); samples and --alt-url comparisons "
        "then also give the client's TTFT minus the server's (the time spent outside the server)");
  f.add("--timeout", &b.timeout_s, "seconds before one request is abandoned");
  f.add("--mix", &b.mix,
        "vary each request: completions or chat, streamed (70%) or not, 0-2 stop strings (soak runs)");
  f.add("--drop-rate", &b.drop_rate,
        "share of requests the client closes at a random point (queued, prefill or decode); they count "
        "as dropped, not failed");
  f.add("--goodput", &b.goodput, "SLOs for goodput, e.g. ttft:200,tpot:50,e2el:2000 (ms)");
  f.add("--json", &b.json_path, "write every number and the raw samples to this file");
  f.add("--plot", &b.plot_path, "write TTFT and ITL CDFs per level to this SVG file");
}

struct Level {
  int index = 0;  // position in the sweep
  RunPlan plan;
  std::string label, short_label;
};

Expected<std::vector<Level>> make_levels(const BenchFlags& b) {
  std::vector<Level> levels;
  if (!b.request_rate.empty()) {
    auto rates = parse_numbers(b.request_rate, "--request-rate");
    if (!rates) return rates.error();
    for (double r : *rates) {
      Level l;
      l.plan.request_rate = r;
      l.plan.burstiness = b.burstiness;
      l.plan.max_concurrency = b.max_concurrency;
      char buf[64];
      std::snprintf(buf, sizeof buf, std::isinf(r) ? "rate inf" : "rate %g/s", r);
      l.label = l.short_label = buf;
      levels.push_back(l);
    }
  } else {
    auto counts = parse_numbers(b.concurrency.empty() ? "1" : b.concurrency, "--concurrency");
    if (!counts) return counts.error();
    for (double c : *counts) {
      Level l;
      l.plan.concurrency = static_cast<int>(c);
      if (std::isinf(c) || l.plan.concurrency < 1 || l.plan.concurrency > 4096)
        return make_error(ErrorCode::kInvalidArgument, "--concurrency must be 1..4096");
      l.label = "concurrency " + std::to_string(l.plan.concurrency);
      l.short_label = "c=" + std::to_string(l.plan.concurrency);
      levels.push_back(l);
    }
  }
  for (std::size_t i = 0; i < levels.size(); ++i) levels[i].index = static_cast<int>(i);
  for (auto& l : levels) {
    l.plan.num_requests = b.num_requests;
    l.plan.duration_s = b.duration_s;
    l.plan.arrival_seed = b.seed;
    l.plan.start_jitter_ms = b.jitter_ms;
  }
  return levels;
}

Expected<LoadTarget> make_target(const BenchFlags& b) {
  auto url = parse_url(b.url);
  if (!url) return url.error();
  auto endpoint = parse_endpoint(b.endpoint);
  if (!endpoint) return endpoint.error();
  LoadTarget t{*url, *endpoint, b.model, b.ignore_eos, b.seed, b.temperature,
               std::chrono::milliseconds(static_cast<long>(b.timeout_s * 1000)), b.mix, b.drop_rate, {}};
  if (!b.alt_url.empty()) {
    auto alt = parse_url(b.alt_url);
    if (!alt) return make_error(ErrorCode::kInvalidArgument, "--alt-url: " + alt.error().message);
    t.alt_url = *alt;
  }
  t.server_timing = b.server_timing;
  if (t.model.empty()) {
    auto models = http_get(*url, "/v1/models");
    if (models && models->status == 200) {
      if (auto id = first_model_id(models->body)) t.model = *id;
    }
    if (t.model.empty()) std::fprintf(stderr, "ladle bench: GET /v1/models gave no model id; sending none\n");
  }
  return t;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

// What the levels accumulate for --json and --plot.
struct BenchOutputs {
  nlohmann::json runs = nlohmann::json::array();
  std::vector<CdfSeries> ttft, itl;
  int total_failed = 0;
};

// Runs one level (after its warmup), prints its report and appends its numbers to `out`.
Status run_level(const Level& level, const BenchFlags& b, const LoadTarget& target, const WorkloadConfig& wc,
                 const Slo& slo, BenchOutputs& out) {
  // NOTE(loadgen): each level gets its own deterministic prompts (seed + level index), so a
  // server's prefix cache is not warmed by the previous level's identical prompts.
  WorkloadConfig level_wc = wc;
  level_wc.seed = wc.seed + 1000003ull * static_cast<std::uint64_t>(level.index);
  Workload workload(level_wc);
  LoadDriver driver(target, workload);
  if (b.warmup > 0) {
    RunPlan warm = level.plan;
    warm.num_requests = b.warmup;
    if (auto w = driver.run(warm); !w) return w.error();
  }
  ProgressLine progress(level.short_label, level.plan.num_requests);
  auto result = driver.run(level.plan, [&](int ok, int failed, int in_flight, double t) {
    progress.update(ok, failed, in_flight, t);
  });
  progress.finish();
  if (!result) return result.error();
  RunSummary s = summarize(result->samples, result->duration_s, slo);
  s.label = level.label;
  s.level = level.plan.concurrency;
  s.request_rate = std::isinf(level.plan.request_rate) ? 0 : level.plan.request_rate;
  std::printf("%s", format_report(s, slo).c_str());
  std::fflush(stdout);
  nlohmann::json run = summary_to_json(s);
  if (target.alt_url) {
    PathComparison c = compare_paths(result->samples, result->duration_s);
    std::printf("%s", format_comparison(c, b.url, b.alt_url).c_str());
    std::fflush(stdout);
    run["comparison"] = comparison_to_json(c);
  }
  run["samples"] = nlohmann::json::array();
  CdfSeries ttft{level.short_label, {}}, itl{level.short_label, {}};
  for (const auto& r : result->samples) {
    run["samples"].push_back(sample_to_json(r));
    if (!r.ok && !r.dropped && ++out.total_failed <= 5) std::fprintf(stderr, "  failed request %d: %s\n", r.index, r.error.c_str());
    if (!r.ok) continue;
    ttft.values.push_back(r.ttft_ms);
    itl.values.insert(itl.values.end(), r.itl_ms.begin(), r.itl_ms.end());
  }
  out.runs.push_back(std::move(run));
  out.ttft.push_back(std::move(ttft));
  out.itl.push_back(std::move(itl));
  return Ok{};
}

Status write_outputs(const BenchFlags& b, const LoadTarget& target, const BenchOutputs& out) {
  if (!b.json_path.empty()) {
    nlohmann::json doc = {{"url", b.url},
                          {"alt_url", b.alt_url},
                          {"endpoint", std::string(endpoint_path(target.endpoint))},
                          {"model", target.model},
                          {"input_len", b.input_len},
                          {"output_len", b.output_len},
                          {"range_ratio", b.range_ratio},
                          {"shared_prefix_len", b.shared_prefix_len},
                          {"ignore_eos", b.ignore_eos},
                          {"seed", b.seed},
                          {"goodput", b.goodput},
                          {"runs", out.runs}};
    if (!write_file(b.json_path, doc.dump(1))) return make_error(ErrorCode::kInternal, "cannot write " + b.json_path);
  }
  if (!b.plot_path.empty()) {
    std::string title = "ladle bench: " + b.url + "  in=" + std::to_string(b.input_len) +
                        " out=" + std::to_string(b.output_len);
    if (!write_file(b.plot_path, render_cdf_svg(title, out.ttft, out.itl)))
      return make_error(ErrorCode::kInternal, "cannot write " + b.plot_path);
  }
  return Ok{};
}

}  // namespace

int run_bench(std::span<const std::string> args) {
  BenchFlags b;
  FlagSet flags("ladle bench [--url URL] [options]",
                "Measures TTFT, ITL, TPOT and end-to-end latency of an OpenAI-compatible streaming server\n"
                "from the client side, under closed-loop concurrency or open-loop Poisson/Gamma arrivals.\n"
                "Exit status: 0 when every request succeeded, 3 when some failed, 1 on I/O errors, 2 on bad usage.");
  register_flags(flags, b);
  if (auto st = flags.parse(args); !st) {
    std::fprintf(stderr, "ladle bench: %s\n", st.error().message.c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.help().c_str());
    return 0;
  }
  Slo slo;
  if (!b.goodput.empty()) {
    auto parsed = parse_slo(b.goodput);
    if (!parsed) return std::fprintf(stderr, "ladle bench: %s\n", parsed.error().message.c_str()), 2;
    slo = *parsed;
  }
  auto levels = make_levels(b);
  if (!levels) return std::fprintf(stderr, "ladle bench: %s\n", levels.error().message.c_str()), 2;
  if (b.num_requests < 1 || b.duration_s <= 0 || b.timeout_s <= 0 || b.input_len < 1 || b.output_len < 1 ||
      b.range_ratio < 0 || b.range_ratio >= 1 || b.drop_rate < 0 || b.drop_rate > 1 || b.jitter_ms < 0)
    return std::fprintf(stderr, "ladle bench: lengths, counts and times must be positive, range ratio in [0,1), "
                                "drop rate in [0,1], jitter >= 0\n"), 2;
  auto target = make_target(b);
  if (!target) return std::fprintf(stderr, "ladle bench: %s\n", target.error().message.c_str()), 2;

  WorkloadConfig wc{b.input_len, b.output_len, b.range_ratio, b.shared_prefix_len, b.seed};
  BenchOutputs out;
  for (const Level& level : *levels)
    if (auto st = run_level(level, b, *target, wc, slo, out); !st)
      return std::fprintf(stderr, "ladle bench: %s\n", st.error().message.c_str()), 1;
  if (auto st = write_outputs(b, *target, out); !st)
    return std::fprintf(stderr, "ladle bench: %s\n", st.error().message.c_str()), 1;
  return out.total_failed > 0 ? 3 : 0;
}

}  // namespace ladle::loadgen
