// attention_bench: paged_attention() alone, at the decode and prefill shapes of a forward step,
// reported as time per step (all layers) and as K/V read bandwidth against the machine's.
//
// usage: attention_bench [--shapes 15m,110m] [--rows 32] [--ctx 128] [--threads 2] [--min-time 1.0] [--steps N]
//                        [--kv-cache-dtype f32,f16]     (--help lists them)
// (--steps N runs exactly N steps per case instead of best-of-three timed rounds, for perf stat.)
// Decode: `rows` sequences of `ctx` positions, one query row each. Prefill: one sequence whose
// `ctx` prompt rows attend causally to each other. Every layer has its own K/V (as in a real
// step), so a 110M decode step streams rows × ctx × kv_dim × 8 bytes × 12 layers from memory.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/machine_limits.h"
#include "kvcache/kv_store.h"
#include "model/attention.h"
#include "model/config.h"
#include "model/half.h"

namespace {

using ladle::model::ModelConfig;

struct Options {
  std::vector<std::string> shapes = {"15m", "110m"};
  int rows = 32;
  int ctx = 128;
  int threads = 2;
  double min_time = 1.0;
  int steps = 0;  // > 0: run exactly this many steps per case (for perf stat / callgrind)
  std::vector<std::string> dtypes = {"f32", "f16"};  // K/V cache types, each timed in the same run
};

// A preset shape (model::preset_config: tiny, 15m, 42m, 110m; anything else is 15m), with room
// for any --ctx up to 1024.
ModelConfig shape_of(const std::string& name) {
  auto preset = ladle::model::preset_config(name);
  ModelConfig c = preset ? *preset : *ladle::model::preset_config("15m");
  c.seq_len = 1024;
  return c;
}

// One step's inputs: the batch, its row → slice map, queries, and a K/V arena filled with noise.
struct Step {
  ladle::model::ForwardBatch batch;
  std::vector<std::int32_t> row_seq;
  std::vector<float> q, out;
};

Step make_step(const ModelConfig& c, int seqs, int rows_per_seq, int ctx, int threads) {
  Step s;
  const int blocks = (ctx + 15) / 16;
  for (int i = 0; i < seqs; ++i) {
    ladle::BlockTable table;
    for (int k = 0; k < blocks; ++k) table.push_back(i * blocks + k);
    s.batch.seqs.push_back({s.batch.num_tokens(), rows_per_seq, ctx, std::move(table), true});
    for (int p = ctx - rows_per_seq; p < ctx; ++p) {
      s.batch.token_ids.push_back(0);
      s.batch.positions.push_back(p);
      s.row_seq.push_back(i);
    }
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.0f, 1.0f);
  s.q.resize(std::size_t(s.batch.num_tokens()) * c.dim);
  for (float& x : s.q) x = n(rng);
  s.out.resize(s.q.size());
  return s;
}

void fill(ladle::kvcache::KvStore& kv) {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 1.0f);
  const std::size_t tile = std::size_t(kv.block_size()) * kv.shape().kv_dim;
  const bool half = kv.dtype() == ladle::kvcache::KvDtype::kF16;
  for (int l = 0; l < kv.shape().n_layers; ++l)
    for (int b = 0; b < kv.num_blocks(); ++b)
      for (std::size_t i = 0; i < 2 * tile; ++i) {
        if (half) kv.key_block<ladle::model::Half>(l, b)[i] = ladle::model::float_to_half(n(rng));
        else kv.key_block(l, b)[i] = n(rng);
      }
}

// Best seconds per step (every layer once) over three rounds.
double time_step(const ModelConfig& c, const ladle::kvcache::KvStore& kv, Step& s, ladle::model::ThreadPool* pool,
                 const Options& o) {
  auto step = [&] {
    for (int l = 0; l < c.n_layers; ++l)
      ladle::model::paged_attention({&s.batch, &kv, l, &c, s.row_seq, s.q.data(), s.out.data()}, pool);
  };
  if (o.steps > 0) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < o.steps; ++i) step();
    return ladle::bench::seconds_since(t0) / o.steps;
  }
  step();
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    int n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while (n < 3 || ladle::bench::seconds_since(t0) < o.min_time / 3) step(), ++n;
    best = std::min(best, ladle::bench::seconds_since(t0) / n);
  }
  return best;
}

void run_shape(const std::string& name, ladle::kvcache::KvDtype dtype, const Options& o, double bandwidth) {
  const ModelConfig c = shape_of(name);
  const int blocks = (o.ctx + 15) / 16;
  ladle::kvcache::KvStore kv({c.n_layers, c.kv_dim(), 16, dtype}, o.rows * blocks);
  fill(kv);
  ladle::model::ThreadPool pool(o.threads);
  struct Case { const char* what; int seqs, rows_per_seq; } cases[] = {
      {"decode", o.rows, 1}, {"prefill", 1, o.ctx}};
  for (const Case& k : cases) {
    Step s = make_step(c, k.seqs, k.rows_per_seq, o.ctx, o.threads);
    const double secs = time_step(c, kv, s, &pool, o);
    // Bytes of K/V the step must read at least once: each sequence's ctx rows, K and V, all layers.
    const double bytes = double(k.seqs) * o.ctx * c.kv_dim() * 2.0 * ladle::kvcache::kv_dtype_bytes(dtype) * c.n_layers;
    std::printf("%-5s %s %-8s rows %4d ctx %4d: %8.3f ms/step (%7.1f us/layer), K/V %6.1f GB/s = %3.0f%% of bw\n",
                name.c_str(), ladle::kvcache::kv_dtype_name(dtype), k.what, s.batch.num_tokens(), o.ctx, secs * 1e3, secs * 1e6 / c.n_layers,
                bytes / secs / 1e9, 100 * bytes / secs / 1e9 / bandwidth);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string shapes = "15m,110m", dtypes = "f32,f16";
  ladle::FlagSet flags("attention_bench [options]",
                       "paged_attention() alone at a decode and a prefill step, as time per step and K/V read "
                       "bandwidth against the machine's.");
  flags.add("--shapes", &shapes, "comma-separated preset shapes: tiny, 15m, 42m, 110m");
  flags.add("--rows", &o.rows, "decode rows (one sequence each)");
  flags.add("--ctx", &o.ctx, "context of every sequence");
  flags.add("--threads", &o.threads, "compute threads");
  flags.add("--min-time", &o.min_time, "seconds per case");
  flags.add("--steps", &o.steps, "> 0: run exactly this many steps per case (for perf stat / callgrind)");
  flags.add("--kv-cache-dtype", &dtypes, "comma-separated K/V cache types, each timed in the same run");
  std::string isas;
  flags.add("--isa", &isas, "comma-separated ISA levels, each timed in turn: portable, avx2, avx512 (default: "
                            "every SIMD level of this CPU)");
  if (auto code = ladle::bench::parse_flags(flags, argc, argv)) return *code;
  const auto levels = ladle::bench::parse_isa_list(isas);
  if (!levels) {
    std::fprintf(stderr, "%s\n", levels.error().message.c_str());
    return 2;
  }
  o.shapes = ladle::bench::split_commas(shapes);
  o.dtypes = ladle::bench::split_commas(dtypes);
  const double bandwidth = o.steps > 0 ? 0.0 : ladle::bench::measure_read_bandwidth(o.threads);
  std::printf("read bandwidth (512 MiB, %d threads): %.1f GB/s\n", o.threads, bandwidth);
  for (const auto& s : o.shapes)
    for (const auto& d : o.dtypes) {
      const auto dtype = ladle::kvcache::parse_kv_dtype(d);
      if (!dtype) {
        std::fprintf(stderr, "%s\n", dtype.error().message.c_str());
        return 2;
      }
      for (const ladle::model::Isa isa : *levels) {
        const ladle::model::ScopedIsa level(isa);
        std::printf("[%s]\n", ladle::model::isa_name(isa));
        run_shape(s, *dtype, o, bandwidth);
      }
    }
  return 0;
}
