// forward_bench: Transformer::forward throughput for 1..64 decode tokens per step on synthetic
// stories15M- and stories110M-shaped checkpoints, reported as tokens/s, model GFLOP/s and
// fractions of the machine's sgemm peak and read bandwidth measured in the same run.
//
// usage: forward_bench [--shapes 15m,110m] [--ctx 96] [--min-time 1.0] [--rounds 1] [--threads 0] [--max-batch 64]
//                      [--batches 1,32] [--weights f32|f16|q8] [--kv-cache-dtype f32|f16] [--greedy]
//                      [--prompt-steps 128,512,2048] [--isa avx2,avx512]  (--help lists them)
// Decode steps are timed at each ISA level of --isa (default: every SIMD level of this CPU) side by
// side, alternated within each round.
// --prompt-steps times prompt steps instead: each step the whole prompts of 32 tokens that fill it
// (a burst's prefill), alternated step size by step size, as prompt tokens/s.
// Checkpoints are generated once into /tmp (deterministic; reused when the size matches).
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/machine_limits.h"
#include "kvcache/kv_store.h"
#include "model/checkpoint_writer.h"
#include "model/config.h"
#include "model/isa.h"
#include "model/matmul.h"
#include "model/transformer.h"

namespace {

using ladle::model::ModelConfig;

struct Options {
  std::vector<std::string> shapes = {"15m", "110m"};
  int ctx = 96;          // context each sequence already has when the timed decode starts
  double min_time = 1.0; // seconds per batch size and round
  int rounds = 1;
  int threads = 0;
  int max_batch = 64;
  ladle::model::WeightType weights = ladle::model::WeightType::kF32;
  // With q8 weights: one model per mode, timed alternately like the ISA levels.
  std::vector<ladle::model::Q8Activations> q8_modes = {ladle::model::Q8Activations::kInt8};
  ladle::kvcache::KvDtype kv_dtype = ladle::kvcache::KvDtype::kF32;
  bool greedy = false;   // also time greedy steps (the argmax screen), alternating with full logits
  std::vector<int> prompt_steps;  // tokens per prompt step (--prompt-steps); empty: decode steps
  std::vector<int> batches;       // decode tokens per step (--batches); empty: 1, 2, 4, ... max_batch
  std::vector<ladle::model::Isa> isas;  // levels the decode steps are timed at
};

// "110m", or else the 15m shape (model::preset_config).
ModelConfig shape_of(const std::string& name) { return *ladle::model::preset_config(name == "110m" ? "110m" : "15m"); }

std::string ensure_checkpoint(const std::string& name) {
  const ModelConfig c = shape_of(name);
  const std::string path = "/tmp/ladle_forward_bench_" + name + ".bin";
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) != 28 + c.checkpoint_floats() * 4) {
    std::fprintf(stderr, "writing %s ...\n", path.c_str());
    if (auto st = ladle::model::write_synthetic_checkpoint(path, c, 1); !st.ok()) {
      std::fprintf(stderr, "%s\n", st.error().message.c_str());
      std::exit(1);
    }
  }
  return path;
}

// Builds one step of `batch` decode tokens, sequence i at position `pos`.
ladle::model::ForwardBatch decode_step(int batch, int pos, int blocks_per_seq) {
  ladle::model::ForwardBatch b;
  for (int i = 0; i < batch; ++i) {
    b.token_ids.push_back((i * 7919 + pos * 31) % 32000);
    b.positions.push_back(pos);
    ladle::BlockTable table;
    for (int k = 0; k < blocks_per_seq; ++k) table.push_back(i * blocks_per_seq + k);
    b.seqs.push_back({i, 1, pos + 1, std::move(table), true});
  }
  return b;
}

// Seconds per step of `steps` (cycled), best of three short runs.
double time_steps(ladle::model::Transformer& m, ladle::kvcache::KvStore& kv,
                  const std::vector<ladle::model::ForwardBatch>& steps, double min_time) {
  m.forward(steps[0], kv);  // warm-up
  double best = 1e30;
  for (int run = 0; run < 3; ++run) {
    std::size_t n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while (n < 2 || ladle::bench::seconds_since(t0) < min_time / 3) m.forward(steps[n++ % steps.size()], kv);
    best = std::min(best, ladle::bench::seconds_since(t0) / double(n));
  }
  return best;
}

// --greedy: the same steps with full logits and as greedy steps (every slice argmax_only, through
// forward_dropping as the engine runs them), alternating every 8 steps for min_time so that both
// see the same stretch of this noisy machine. Seconds per step of each, and whether the greedy
// steps were screened.
struct GreedyPair {
  double full_s = 0, greedy_s = 0;
  bool screened = false;
};
GreedyPair time_greedy_pair(ladle::model::Transformer& m, ladle::kvcache::KvStore& kv,
                            const std::vector<ladle::model::ForwardBatch>& steps, double min_time) {
  std::vector<ladle::model::ForwardBatch> greedy = steps;
  for (auto& b : greedy)
    for (auto& slice : b.seqs) slice.argmax_only = true;
  GreedyPair out;
  double t[2] = {0, 0};
  long n[2] = {0, 0};
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t s = 0; s < 32 || ladle::bench::seconds_since(start) < min_time; ++s) {
    const int mode = int(s / 8 % 2);
    const auto t0 = std::chrono::steady_clock::now();
    if (mode == 1) out.screened = !m.forward_dropping(greedy[s % greedy.size()], kv, {}).greedy.empty();
    else m.forward(steps[s % steps.size()], kv);
    t[mode] += ladle::bench::seconds_since(t0);
    ++n[mode];
  }
  out.full_s = t[0] / double(n[0]);
  out.greedy_s = t[1] / double(n[1]);
  return out;
}

void run_shape(const std::string& name, const Options& o) {
  std::vector<std::unique_ptr<ladle::model::Transformer>> models;
  const std::size_t num_models = o.weights == ladle::model::WeightType::kQ8 ? o.q8_modes.size() : 1;
  for (std::size_t v = 0; v < num_models; ++v) {
    ladle::model::RuntimeLimits limits{256, o.max_batch, o.threads, o.weights};
    limits.q8_activations = o.q8_modes[v];
    auto model = ladle::model::Transformer::load(ensure_checkpoint(name), limits);
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", model.error().message.c_str());
      std::exit(1);
    }
    models.push_back(std::move(*model));
  }
  auto& m = *models.front();
  const ModelConfig& c = m.config();
  const int bs = 16, max_steps = 32, blocks_per_seq = (o.ctx + max_steps + bs - 1) / bs;
  ladle::kvcache::KvStore kv(m.kv_shape(bs, o.kv_dtype), o.max_batch * blocks_per_seq);
  // Prefill every sequence's context (one prompt chunk per sequence per step).
  for (int i = 0; i < o.max_batch; ++i) {
    ladle::model::ForwardBatch b;
    ladle::BlockTable table;
    for (int k = 0; k < blocks_per_seq; ++k) table.push_back(i * blocks_per_seq + k);
    for (int p = 0; p < o.ctx; ++p) b.token_ids.push_back((i + 3 * p) % 32000), b.positions.push_back(p);
    b.seqs.push_back({0, o.ctx, o.ctx, table, true});
    m.forward(b, kv);
  }
  const double flop_per_token = 2.0 * double(c.matmul_params());
  std::vector<int> batches = o.batches;
  if (batches.empty())
    for (int batch = 1; batch <= o.max_batch; batch *= 2) batches.push_back(batch);
  std::vector<std::vector<ladle::model::ForwardBatch>> steps(batches.size());
  for (std::size_t i = 0; i < batches.size(); ++i)
    for (int s = 0; s < max_steps; ++s) steps[i].push_back(decode_step(batches[i], o.ctx + s, blocks_per_seq));
  // Round r: the machine's limits, then every batch size. The machine is shared and its speed
  // wanders by tens of percent over minutes, so rounds alternate everything and the table keeps
  // each row's best round (the least disturbed; interference only ever slows a run down) next to
  // its median, with ratios taken to the best limits of the same rounds.
  // Rows: every batch size at every ISA level (row i·levels + l), alternated within each round.
  // With several q8 activation modes, variant v = mode · isas + level.
  const std::size_t isas = o.isas.size(), levels = isas * num_models, rows = batches.size() * levels;
  auto variant_name = [&](std::size_t row) {
    const std::size_t v = row % levels;
    std::string n = ladle::model::isa_name(o.isas[v % isas]);
    if (num_models > 1) n += std::string("/") + ladle::model::q8_activations_name(o.q8_modes[v / isas]);
    return n;
  };
  std::vector<double> peaks, bandwidths;
  std::vector<std::vector<double>> step_s(rows), ratio(rows);  // per round
  std::vector<std::vector<double>> greedy_s(rows), greedy_gain(rows);  // --greedy
  std::vector<bool> screened(rows, false);
  for (int round = 0; round < o.rounds; ++round) {
    peaks.push_back(ladle::bench::measure_sgemm_peak());
    bandwidths.push_back(ladle::bench::measure_read_bandwidth());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let OpenBLAS's workers go idle
    for (std::size_t row = 0; row < rows; ++row) {
      const std::size_t i = row / levels;
      const ladle::model::ScopedIsa level(o.isas[row % levels % isas]);
      ladle::model::Transformer& mv = *models[row % levels / isas];
      const double best = time_steps(mv, kv, steps[i], o.min_time);
      step_s[row].push_back(best);
      ratio[row].push_back(batches[i] / best * flop_per_token / 1e9 / peaks.back());
      if (!o.greedy) continue;
      const GreedyPair g = time_greedy_pair(mv, kv, steps[i], o.min_time);
      greedy_s[row].push_back(g.greedy_s);
      greedy_gain[row].push_back(g.full_s / g.greedy_s);
      screened[row] = g.screened;
    }
  }
  const double peak = ladle::bench::best_of(peaks), bandwidth = ladle::bench::best_of(bandwidths);
  std::printf("\nmachine (best of %d rounds): OpenBLAS sgemm peak (M=128, 2048x768, 2 threads, its %s kernel) %.1f GFLOP/s [%s]; read bandwidth (512 MiB, 2 threads) %.1f GB/s [%s]\n",
              o.rounds, openblas_get_corename(), peak, ladle::bench::join_rounded(peaks).c_str(), bandwidth, ladle::bench::join_rounded(bandwidths).c_str());
  std::printf("%s shape (dim %d, hidden %d, layers %d, vocab %d): %.1f MFLOP and %.1f MB of %s%s weights per token, KV cache %s, context %d..%d\n",
              name.c_str(), c.dim, c.hidden_dim, c.n_layers, c.vocab_size, flop_per_token / 1e6,
              m.weights().bytes_per_token() / 1e6, ladle::model::weight_type_name(m.weights().type()),
              m.weights().type() != ladle::model::WeightType::kQ8 ? ""
              : num_models > 1 ? " (activations: isa/mode)"
              : o.q8_modes.front() == ladle::model::Q8Activations::kInt8 ? " (int8 activations)" : " (float activations)",
              ladle::kvcache::kv_dtype_name(o.kv_dtype), o.ctx, o.ctx + max_steps);
  std::printf("%8s %12s %12s %12s %10s %10s %12s %10s", "tokens", "isa", "tok/s best", "median", "GFLOP/s", "of peak",
              "(median)", "of bw");
  if (o.greedy) std::printf(" %14s %10s %16s", "greedy best", "screened", "greedy/full med");
  std::printf("\n");
  for (std::size_t row = 0; row < rows; ++row) {
    const std::size_t i = row / levels;
    std::vector<double> tok_s;
    for (double t : step_s[row]) tok_s.push_back(batches[i] / t);
    const double best = ladle::bench::best_of(tok_s), gflops = best * flop_per_token / 1e9;
    const double bw = best / batches[i] * m.weights().bytes_per_token() / 1e9;  // weights stream once per step
    std::printf("%8d %12s %12.1f %12.1f %10.1f %9.0f%% %11.0f%% %9.0f%%", batches[i],
                variant_name(row).c_str(), best, ladle::bench::percentile(tok_s, 50), gflops,
                100 * gflops / peak, 100 * ladle::bench::percentile(ratio[row], 50), 100 * bw / bandwidth);
    std::vector<double> greedy_tok_s;
    for (double t : greedy_s[row]) greedy_tok_s.push_back(batches[i] / t);
    if (o.greedy)
      std::printf(" %14.1f %10s %16.3f", ladle::bench::best_of(greedy_tok_s),
                  screened[row] ? "yes" : "no", ladle::bench::percentile(greedy_gain[row], 50));
    std::printf("\n");
  }
}

// --prompt-steps: steps made of whole 32-token prompts (the first chunk of each in a burst), every
// prompt producing its last row's logits, as a server's burst of new requests is computed. The
// step sizes alternate within each round; each reports its best and median round.
void run_prompt_steps(const std::string& name, const Options& o) {
  constexpr int kPromptLen = 32, bs = 16;
  const int max_tokens = *std::max_element(o.prompt_steps.begin(), o.prompt_steps.end());
  const int max_prompts = max_tokens / kPromptLen, blocks_per_prompt = kPromptLen / bs;
  ladle::model::RuntimeLimits limits{max_tokens, max_prompts, o.threads, o.weights};
  limits.q8_activations = o.q8_modes.front();
  auto model = ladle::model::Transformer::load(ensure_checkpoint(name), limits);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.error().message.c_str());
    std::exit(1);
  }
  auto& m = **model;
  const ModelConfig& c = m.config();
  ladle::kvcache::KvStore kv(m.kv_shape(bs, o.kv_dtype), max_prompts * blocks_per_prompt);
  std::vector<ladle::model::ForwardBatch> steps;
  for (int tokens : o.prompt_steps) {
    ladle::model::ForwardBatch b;
    for (int i = 0; i < tokens / kPromptLen; ++i) {
      ladle::BlockTable table;
      for (int k = 0; k < blocks_per_prompt; ++k) table.push_back(i * blocks_per_prompt + k);
      for (int p = 0; p < kPromptLen; ++p) b.token_ids.push_back((i * 131 + p * 7) % c.vocab_size), b.positions.push_back(p);
      b.seqs.push_back({i * kPromptLen, kPromptLen, kPromptLen, table, true});
    }
    steps.push_back(std::move(b));
  }
  // Model FLOPs of a step: every row through the layers, one row per prompt through the classifier.
  const double classifier = double(c.vocab_size) * c.dim;
  const double layers = double(c.matmul_params()) - classifier;
  std::vector<std::vector<double>> tok_s(steps.size());
  for (int round = 0; round < o.rounds; ++round)
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const double s = time_steps(m, kv, {steps[i]}, o.min_time);
      tok_s[i].push_back(steps[i].num_tokens() / s);
    }
  std::printf("\n%s shape, %s weights, KV cache %s: prompt steps of whole %d-token prompts, %d round(s)\n", name.c_str(),
              ladle::model::weight_type_name(m.weights().type()), ladle::kvcache::kv_dtype_name(o.kv_dtype), kPromptLen,
              o.rounds);
  std::printf("%8s %8s %12s %12s %10s %12s\n", "tokens", "prompts", "tok/s best", "median", "ms/step", "GFLOP/s");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const int tokens = steps[i].num_tokens(), prompts = int(steps[i].seqs.size());
    const double best = ladle::bench::best_of(tok_s[i]);
    const double flop = 2.0 * (tokens * layers + prompts * classifier);
    std::printf("%8d %8d %12.1f %12.1f %10.1f %12.1f\n", tokens, prompts, best, ladle::bench::percentile(tok_s[i], 50),
                1e3 * tokens / best, flop * best / tokens / 1e9);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string shapes = "15m,110m", weights = "f32", kv_dtype = "f32";
  ladle::FlagSet flags("forward_bench [options]",
                       "Transformer::forward throughput for 1..max-batch decode tokens per step, against the "
                       "machine's sgemm peak and read bandwidth measured in the same run.");
  flags.add("--shapes", &shapes, "comma-separated shapes: 15m, 110m");
  flags.add("--ctx", &o.ctx, "context each sequence already has when the timed decode starts");
  flags.add("--min-time", &o.min_time, "seconds per batch size and round");
  flags.add("--rounds", &o.rounds, "rounds over all batch sizes, each with its own sgemm peak and bandwidth probe");
  flags.add("--threads", &o.threads, "compute threads (0 = all cores)");
  flags.add("--max-batch", &o.max_batch, "largest decode tokens per step (doubling from 1)");
  flags.add("--weights", &weights, "matmul weights: f32, f16, q8 or native");
  flags.add("--kv-cache-dtype", &kv_dtype, "K/V cache values: f32 or f16");
  std::string q8_activations = "int8";
  flags.add("--q8-activations", &q8_activations,
            "with --weights q8: int8 or float activations, or both comma-separated (one model each, timed "
            "alternately as the ISA levels are)");
  flags.add("--greedy", &o.greedy,
            "also time the same steps as greedy ones (the argmax screen, model/argmax_screen.h, at up to 4 rows) "
            "alternately with full-logits ones, every 8 steps for --min-time, and report greedy tok/s and "
            "the ratio");
  std::string batches, isas;
  flags.add("--batches", &batches, "comma-separated decode tokens per step (default: 1, 2, 4, ... --max-batch)");
  flags.add("--isa", &isas, "comma-separated ISA levels to time decode steps at: portable, avx2, avx512 (default: "
                            "every SIMD level of this CPU); prompt steps run at the first");
  std::string prompt_steps;
  flags.add("--prompt-steps", &prompt_steps,
            "instead of decode steps, time prompt steps of these many tokens (comma-separated, multiples of 32), "
            "each made of whole 32-token prompts, as a burst of new requests is prefilled");
  if (auto code = ladle::bench::parse_flags(flags, argc, argv)) return *code;
  const auto type = ladle::model::parse_weight_type(weights);
  const auto dtype = ladle::kvcache::parse_kv_dtype(kv_dtype);
  if (!type || !dtype) {
    std::fprintf(stderr, "%s\n", (!type ? type.error() : dtype.error()).message.c_str());
    return 2;
  }
  o.q8_modes.clear();
  for (const std::string& a : ladle::bench::split_commas(q8_activations)) {
    const auto q8 = ladle::model::parse_q8_activations(a);
    if (!q8) {
      std::fprintf(stderr, "%s\n", q8.error().message.c_str());
      return 2;
    }
    o.q8_modes.push_back(*q8);
  }
  if (o.q8_modes.empty()) o.q8_modes.push_back(ladle::model::Q8Activations::kInt8);
  auto levels = ladle::bench::parse_isa_list(isas);
  if (!levels) {
    std::fprintf(stderr, "%s\n", levels.error().message.c_str());
    return 2;
  }
  o.isas = *levels;
  for (const std::string& b : batches.empty() ? std::vector<std::string>{} : ladle::bench::split_commas(batches)) {
    const int n = std::atoi(b.c_str());
    if (n < 1 || n > o.max_batch) {
      std::fprintf(stderr, "--batches: %s is not in [1, --max-batch]\n", b.c_str());
      return 2;
    }
    o.batches.push_back(n);
  }
  o.shapes = ladle::bench::split_commas(shapes);
  o.rounds = std::max(1, o.rounds);
  o.weights = *type;
  o.kv_dtype = *dtype;
  for (const std::string& t : prompt_steps.empty() ? std::vector<std::string>{} : ladle::bench::split_commas(prompt_steps)) {
    const int tokens = std::atoi(t.c_str());
    if (tokens < 32 || tokens % 32 != 0) {
      std::fprintf(stderr, "--prompt-steps: %s is not a positive multiple of 32\n", t.c_str());
      return 2;
    }
    o.prompt_steps.push_back(tokens);
  }
  if (!o.prompt_steps.empty()) {
    const ladle::model::ScopedIsa level(o.isas.front());
    for (const auto& s : o.shapes) run_prompt_steps(s, o);
    return 0;
  }
  for (const auto& s : o.shapes) run_shape(s, o);
  if (o.greedy)
    std::printf("\n'greedy best' = the same steps with every sequence greedy (best round, mean of its alternated steps); 'screened' = whether the argmax screen decided them (only at up to 4 rows); 'greedy/full med' = median over rounds of full-logits step time / greedy step time, the two alternated every 8 steps.");
  std::printf("\n'of peak' = best model GFLOP/s (2 x matmul params per token) / best sgemm peak; '(median)' = median over rounds of the same ratio within a round; 'of bw' = weight bytes per step x best steps/s / best read bandwidth.\n");
  return 0;
}
